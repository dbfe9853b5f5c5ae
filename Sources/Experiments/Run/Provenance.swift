import CBLAS
import CHDF5
import CJPEG
import CPNG
import Foundation

/// Facts about the machine and source tree a run used, for `run.json`.
enum Provenance {
    /// `git rev-parse HEAD` and whether `git status --porcelain` lists changes, in `folder`;
    /// nil when git or the repository is unavailable.
    static func git(in folder: URL) -> (sha: String, dirty: Bool)? {
        guard let sha = runTool("/usr/bin/env", ["git", "-C", folder.path, "rev-parse", "HEAD"]),
              let status = runTool("/usr/bin/env", ["git", "-C", folder.path, "status", "--porcelain"]) else { return nil }
        return (sha.trimmingCharacters(in: .whitespacesAndNewlines), !status.isEmpty)
    }

    /// Versions of the C libraries linked in.
    static var libraries: [String: String] {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        _ = H5get_libversion(&major, &minor, &release)
        let turbo = Int(LIBJPEG_TURBO_VERSION_NUMBER)
        var versions = [
            "hdf5": "\(major).\(minor).\(release)",
            "libpng": String(cString: png_get_libpng_ver(nil)),
            // libjpeg-turbo's number is MMMmmmppp; the API is libjpeg's (62 = 6b).
            "libjpeg": "libjpeg-turbo \(turbo / 1_000_000).\(turbo / 1000 % 1000).\(turbo % 1000) (API \(JPEG_LIB_VERSION))",
        ]
        if let config = openblas_get_config() { versions["openblas"] = String(cString: config) }
        return versions
    }

    /// The Swift compiler that built the tool (major.minor).
    static var swiftVersion: String {
        #if compiler(>=6.4)
        return "≥ 6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }

    /// `PRETTY_NAME` of /etc/os-release (or Foundation's OS string) and the kernel release.
    static var operatingSystem: String {
        var name = ProcessInfo.processInfo.operatingSystemVersionString
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            name = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        var system = utsname()
        uname(&system)
        let kernel = withUnsafeBytes(of: &system.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return "\(name) (kernel \(kernel))"
    }

    /// Peak resident memory of this process so far (`VmHWM` of /proc/self/status), in bytes.
    static var peakMemoryBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return nil }
        return kilobytes * 1024
    }

    /// Runs a tool and returns its standard output, or nil when it fails.
    private static func runTool(_ path: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
