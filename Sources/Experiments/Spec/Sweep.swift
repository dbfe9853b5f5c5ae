/// A spec parameter that is either one value or a list to sweep: `"k": 1` or
/// `"coreset_ratio": [0.01, 0.1, 0.25]`. The runner expands every sweep of a spec into a
/// grid (cartesian product) and runs each point.
public struct Sweep<Value: Hashable & Sendable>: Hashable, Sendable {
    /// The values in spec order; never empty, no duplicates.
    public private(set) var values: [Value]

    public init(_ value: Value) { values = [value] }

    init(values: [Value]) {
        precondition(!values.isEmpty, "a sweep holds at least one value")
        self.values = values
    }

    /// The value of a parameter that is not swept (or of a grid point).
    public var value: Value {
        precondition(values.count == 1, "value of a sweep over \(values.count) values; expand the grid first")
        return values[0]
    }
}

/// One named parameter value of a grid point, e.g. `coreset_ratio = 0.1`.
public struct Parameter: Hashable, Sendable {
    /// The spec key (`coreset_ratio`), used as a column name.
    public var name: String
    /// The value as the spec writes it (`0.1`, `cosine`, `true`).
    public var value: String
}

/// Expands the sweeps of a value of type `Root` into its grid points, in spec order with
/// the last swept parameter varying fastest.
struct GridExpansion<Root> {
    private(set) var points: [(root: Root, parameters: [Parameter])]

    init(_ root: Root) { points = [(root, [])] }

    /// Expands `keyPath`, recording it as a parameter column named `name`.
    mutating func sweep<Value>(_ keyPath: WritableKeyPath<Root, Sweep<Value>>, _ name: String,
                               _ render: (Value) -> String) {
        points = points.flatMap { point in
            point.root[keyPath: keyPath].values.map { value in
                var root = point.root
                root[keyPath: keyPath] = Sweep(value)
                return (root, point.parameters + [Parameter(name: name, value: render(value))])
            }
        }
    }
}
