import Foundation

/// Foundation file errors in words. Foundation on Linux describes many of them only as
/// "The operation could not be completed. (NSCocoaErrorDomain error 512.)"; the POSIX error
/// underneath says what happened.
public enum FileErrorDescription {
    /// The reason `error` happened, e.g. `permission denied`, `not a directory`,
    /// `no space left on device`; any other error's own description.
    public static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return posixReason(nsError.code) }
        guard nsError.domain == NSCocoaErrorDomain else { return String(describing: error) }
        // Foundation on Linux stores the underlying error as a `POSIXError`, not an NSError.
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? Error,
           (underlying as NSError).domain == NSPOSIXErrorDomain {
            return posixReason((underlying as NSError).code)
        }
        switch CocoaError.Code(rawValue: nsError.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or directory"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteOutOfSpace: return "no space left on device"
        case .fileWriteFileExists: return "the file already exists"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileReadTooLarge: return "the file is too large to read"
        case .fileReadInapplicableStringEncoding, .fileReadUnknownStringEncoding: return "the file is not UTF-8 text"
        case .fileReadInvalidFileName, .fileWriteInvalidFileName: return "invalid file name"
        default: return "input/output error (Foundation error \(nsError.code))"
        }
    }

    /// `path: reason` for a Foundation file error that names its file, else nil.
    public static func located(_ error: Error) -> String? {
        let nsError = error as NSError
        guard nsError.domain == NSCocoaErrorDomain || nsError.domain == NSPOSIXErrorDomain else { return nil }
        let path = (nsError.userInfo[NSFilePathErrorKey] as? String)
            ?? (nsError.userInfo[NSURLErrorKey] as? URL)?.path
        return path.map { "\($0): \(reason(error))" } ?? reason(error)
    }

    private static func posixReason(_ code: Int) -> String {
        String(cString: strerror(Int32(code))).lowercased()
    }
}
