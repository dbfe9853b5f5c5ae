/// Why committed results or a fresh run's results could not be read or compared.
public struct RegressionError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
