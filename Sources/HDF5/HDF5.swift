import CHDF5
import Foundation

// A thin layer over HDF5's C API: each function opens, uses and closes its own ids and
// throws `HDF5Failure` with HDF5's innermost error message when a call fails. Every
// status is checked, closes included: closing a dataset or file writes what HDF5 still
// buffers, so a failed close is a failed write (e.g. a full disk).
// The serial HDF5 library is not thread-safe; every use holds `hdf5Lock`.

/// A failed HDF5 call or check: what was attempted and the reason.
public struct HDF5Failure: Error, CustomStringConvertible {
    public var description: String
    /// The file is a valid cache file of an older format (replaced, not kept as evidence).
    public var isObsoleteFormat = false

    public init(description: String, isObsoleteFormat: Bool = false) {
        self.description = description
        self.isObsoleteFormat = isObsoleteFormat
    }
}

private let hdf5Lock = NSRecursiveLock()

/// HDF5 prints its error stack to stderr by default; the cache reports errors itself.
/// Nor does HDF5 tear itself down at exit: every file is closed explicitly, and after a
/// failed write (a full disk) its exit handler would dereference the failed file's freed
/// state and crash the process that just reported the error.
private let silenceHDF5: Void = {
    _ = H5dont_atexit()
    _ = H5open()
    _ = H5Eset_auto2(trawl_h5e_default(), nil, nil)
}()

/// Runs `body` holding the HDF5 lock.
public func withHDF5<R>(_ body: () throws -> R) rethrows -> R {
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    _ = silenceHDF5
    return try body()
}

/// The most specific message on HDF5's error stack (then clears it).
private func hdf5ErrorMessage() -> String {
    var messages = [String]()
    withUnsafeMutablePointer(to: &messages) { list in
        _ = H5Ewalk2(trawl_h5e_default(), H5E_WALK_UPWARD, { _, error, data in
            if let description = error?.pointee.desc {
                data!.assumingMemoryBound(to: [String].self).pointee.append(String(cString: description))
            }
            return 0
        }, list)
    }
    _ = H5Eclear2(trawl_h5e_default())
    return messages.first.map(condensed) ?? "unknown HDF5 error"
}

/// HDF5's failed system calls read `file write failed: time = …, filename = …, file
/// descriptor = 5, errno = 28, error message = 'No space left on device', buf = …`; keep
/// what a user acts on: `file write failed: No space left on device`.
private func condensed(_ message: String) -> String {
    guard let start = message.range(of: "error message = '"),
          let end = message[start.upperBound...].firstIndex(of: "'") else { return message }
    return "\(message.prefix { $0 != ":" && $0 != "," }): \(message[start.upperBound..<end])"
}

@discardableResult
public func check(_ result: herr_t, _ what: @autoclosure () -> String) throws -> herr_t {
    guard result >= 0 else { throw HDF5Failure(description: "\(what()): \(hdf5ErrorMessage())") }
    return result
}

public func check(id: hid_t, _ what: @autoclosure () -> String) throws -> hid_t {
    guard id >= 0 else { throw HDF5Failure(description: "\(what()): \(hdf5ErrorMessage())") }
    return id
}

/// Runs `body` with the open `id`, then closes it with `close`. A failed close throws
/// (unless `body` already threw: then `id` is closed and `body`'s error rethrown).
@discardableResult
public func using<R>(_ id: hid_t, _ close: (hid_t) -> herr_t, _ what: @autoclosure () -> String,
              _ body: (hid_t) throws -> R) throws -> R {
    let result: R
    do {
        result = try body(id)
    } catch {
        _ = close(id)
        throw error
    }
    try check(close(id), "cannot close \(what())")
    return result
}

/// Opens dataset `name` of `location` for `body`.
@discardableResult
private func withDataset<R>(_ location: hid_t, _ name: String, _ body: (hid_t) throws -> R) throws -> R {
    try using(try check(id: H5Dopen2(location, name, trawl_h5p_default()), "cannot open dataset \(name)"),
              H5Dclose, "dataset \(name)", body)
}

/// A new simple dataspace of `extents` for `body`.
@discardableResult
private func withSpace<R>(_ extents: [hsize_t], _ body: (hid_t) throws -> R) throws -> R {
    var extents = extents
    return try using(try check(id: H5Screate_simple(Int32(extents.count), &extents, nil), "H5Screate_simple"),
                     H5Sclose, "dataspace", body)
}

/// Whether `path` starts with HDF5's signature.
public func isHDF5(_ path: String) -> Bool {
    H5Fis_hdf5(path) > 0
}

/// Closes `file`, writing everything HDF5 still buffers.
public func closeFile(_ file: hid_t) throws {
    try check(H5Fclose(file), "cannot close the file")
}

public func createFile(_ path: String) throws -> hid_t {
    try check(id: H5Fcreate(path, trawl_h5f_acc_trunc(), trawl_h5p_default(), trawl_h5p_default()), "cannot create \(path)")
}

public func openFile(_ path: String, writable: Bool) throws -> hid_t {
    try check(id: H5Fopen(path, writable ? trawl_h5f_acc_rdwr() : trawl_h5f_acc_rdonly(), trawl_h5p_default()),
              "cannot open as HDF5")
}

public func exists(_ location: hid_t, _ name: String) -> Bool {
    H5Lexists(location, name, trawl_h5p_default()) > 0
}

/// A variable-length UTF-8 string type; the caller closes it.
private func stringType() throws -> hid_t {
    let type = try check(id: H5Tcopy(trawl_h5t_c_s1()), "H5Tcopy")
    do {
        try check(H5Tset_size(type, trawl_h5t_variable()), "H5Tset_size")
        try check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset")
    } catch {
        H5Tclose(type)
        throw error
    }
    return type
}

/// A variable-length UTF-8 string type for `body`.
@discardableResult
private func withStringType<R>(_ body: (hid_t) throws -> R) throws -> R {
    try using(try stringType(), H5Tclose, "string type", body)
}

/// Calls `body` with C strings for `strings`, valid only inside `body`.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return try body(copies.map { UnsafePointer($0) })
}

// MARK: Attributes

public func writeStringAttribute(_ location: hid_t, _ name: String, _ value: String) throws {
    try withStringType { type in
        try using(try check(id: H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose, "dataspace") { space in
            let attribute = try check(id: H5Acreate2(location, name, type, space, trawl_h5p_default(), trawl_h5p_default()),
                                      "cannot create attribute \(name)")
            try using(attribute, H5Aclose, "attribute \(name)") { attribute in
                _ = try withCStrings([value]) { pointers in
                    try check(H5Awrite(attribute, type, pointers), "cannot write attribute \(name)")
                }
            }
        }
    }
}

public func readStringAttribute(_ location: hid_t, _ name: String) throws -> String {
    guard H5Aexists(location, name) > 0 else { throw HDF5Failure(description: "attribute \(name) is missing") }
    let attribute = try check(id: H5Aopen(location, name, trawl_h5p_default()), "cannot open attribute \(name)")
    return try using(attribute, H5Aclose, "attribute \(name)") { attribute in
        let isString = try using(try check(id: H5Aget_type(attribute), "H5Aget_type"), H5Tclose, "type") { stored in
            H5Tget_class(stored) == H5T_STRING && H5Tis_variable_str(stored) > 0
        }
        guard isString else { throw HDF5Failure(description: "attribute \(name) is not a variable-length string") }
        return try withStringType { type in
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try check(H5Aread(attribute, type, &pointer), "cannot read attribute \(name)")
            defer { H5free_memory(pointer) }
            return pointer.map { String(cString: $0) } ?? ""
        }
    }
}

public func writeInt64Attribute(_ location: hid_t, _ name: String, _ values: [Int64]) throws {
    try withSpace([hsize_t(values.count)]) { space in
        let attribute = try check(id: H5Acreate2(location, name, trawl_h5t_native_int64(), space, trawl_h5p_default(),
                                                 trawl_h5p_default()), "cannot create attribute \(name)")
        try using(attribute, H5Aclose, "attribute \(name)") { attribute in
            try check(H5Awrite(attribute, trawl_h5t_native_int64(), values), "cannot write attribute \(name)")
        }
    }
}

public func readInt64Attribute(_ location: hid_t, _ name: String) throws -> [Int64] {
    guard H5Aexists(location, name) > 0 else { throw HDF5Failure(description: "attribute \(name) is missing") }
    let attribute = try check(id: H5Aopen(location, name, trawl_h5p_default()), "cannot open attribute \(name)")
    return try using(attribute, H5Aclose, "attribute \(name)") { attribute in
        let count = try using(try check(id: H5Aget_space(attribute), "H5Aget_space"), H5Sclose, "dataspace") {
            Int(H5Sget_simple_extent_npoints($0))
        }
        guard count >= 0, count <= 64 else { throw HDF5Failure(description: "attribute \(name) has \(count) elements") }
        var values = [Int64](repeating: 0, count: count)
        try check(H5Aread(attribute, trawl_h5t_native_int64(), &values), "cannot read attribute \(name)")
        return values
    }
}

// MARK: Datasets

/// Extents of dataset `name` and its element class and size.
public func datasetInfo(_ location: hid_t, _ name: String) throws -> (shape: [Int], typeClass: H5T_class_t, typeSize: Int) {
    try withDataset(location, name) { dataset in
        let extents = try using(try check(id: H5Dget_space(dataset), "H5Dget_space"), H5Sclose, "dataspace") { space in
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 0, rank <= 8 else { throw HDF5Failure(description: "dataset \(name) has rank \(rank)") }
            var extents = [hsize_t](repeating: 0, count: rank)
            try check(H5Sget_simple_extent_dims(space, &extents, nil), "H5Sget_simple_extent_dims")
            return extents
        }
        return try using(try check(id: H5Dget_type(dataset), "H5Dget_type"), H5Tclose, "type") { type in
            (extents.map { Int($0) }, H5Tget_class(type), H5Tget_size(type))
        }
    }
}

/// Writes a one-dimensional variable-length string dataset.
public func writeStrings(_ location: hid_t, _ name: String, _ strings: [String]) throws {
    try withStringType { type in
        try withSpace([hsize_t(strings.count)]) { space in
            let dataset = try check(id: H5Dcreate2(location, name, type, space, trawl_h5p_default(), trawl_h5p_default(),
                                                   trawl_h5p_default()), "cannot create dataset \(name)")
            try using(dataset, H5Dclose, "dataset \(name)") { dataset in
                guard !strings.isEmpty else { return }
                _ = try withCStrings(strings) { pointers in
                    try check(H5Dwrite(dataset, type, trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(), pointers),
                              "cannot write dataset \(name)")
                }
            }
        }
    }
}

public func readStrings(_ location: hid_t, _ name: String) throws -> [String] {
    let info = try datasetInfo(location, name)
    guard info.shape.count == 1, info.typeClass == H5T_STRING else {
        throw HDF5Failure(description: "dataset \(name) is not a list of strings")
    }
    return try withDataset(location, name) { dataset in
        try withStringType { type in
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: info.shape[0])
            guard !pointers.isEmpty else { return [] }
            try check(H5Dread(dataset, type, trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(), &pointers),
                      "cannot read dataset \(name)")
            defer { pointers.forEach { H5free_memory($0) } }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
    }
}

/// Writes a one-dimensional uint8 dataset, creating it when absent.
public func writeBytes(_ location: hid_t, _ name: String, _ bytes: [UInt8]) throws {
    try writeIntegers(location, name, bytes, type: trawl_h5t_native_uint8())
}

public func readBytes(_ location: hid_t, _ name: String) throws -> [UInt8] {
    try readIntegers(location, name, type: trawl_h5t_native_uint8(), what: "a list of bytes")
}

/// Writes a one-dimensional uint32 dataset, creating it when absent.
public func writeUInt32s(_ location: hid_t, _ name: String, _ values: [UInt32]) throws {
    try writeIntegers(location, name, values, type: trawl_h5t_native_uint32())
}

public func readUInt32s(_ location: hid_t, _ name: String) throws -> [UInt32] {
    try readIntegers(location, name, type: trawl_h5t_native_uint32(), what: "a list of uint32")
}

/// Writes `values` as the one-dimensional dataset `name` of HDF5 type `type` (whose size
/// must be `T`'s), creating it when absent.
private func writeIntegers<T: FixedWidthInteger>(_ location: hid_t, _ name: String, _ values: [T], type: hid_t) throws {
    let dataset: hid_t
    if exists(location, name) {
        dataset = try check(id: H5Dopen2(location, name, trawl_h5p_default()), "cannot open dataset \(name)")
    } else {
        dataset = try withSpace([hsize_t(values.count)]) { space in
            try check(id: H5Dcreate2(location, name, type, space, trawl_h5p_default(), trawl_h5p_default(),
                                     trawl_h5p_default()), "cannot create dataset \(name)")
        }
    }
    try using(dataset, H5Dclose, "dataset \(name)") { dataset in
        guard !values.isEmpty else { return }
        try check(H5Dwrite(dataset, type, trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(), values),
                  "cannot write dataset \(name)")
    }
}

private func readIntegers<T: FixedWidthInteger>(_ location: hid_t, _ name: String, type: hid_t, what: String) throws -> [T] {
    let info = try datasetInfo(location, name)
    guard info.shape.count == 1, info.typeClass == H5T_INTEGER, info.typeSize == MemoryLayout<T>.size else {
        throw HDF5Failure(description: "dataset \(name) is not \(what)")
    }
    return try withDataset(location, name) { dataset in
        var values = [T](repeating: 0, count: info.shape[0])
        guard !values.isEmpty else { return [] }
        try check(H5Dread(dataset, type, trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(), &values),
                  "cannot read dataset \(name)")
        return values
    }
}

/// Creates a float32 dataset of `shape`, chunked one row (first-axis slice) per chunk and
/// Fletcher-32 checksummed, uncompressed: deflate (level 1, after byte shuffling) saved 14 %
/// of backbone feature maps and nothing on memory banks (0.99:1), while it took most of the
/// CPU time of writing and reading them. Files written with the filters read all the same.
public func createFloatDataset(_ location: hid_t, _ name: String, shape: [Int]) throws {
    let extents = shape.map { hsize_t($0) }
    var chunk = [1] + extents.dropFirst()
    try withSpace(extents) { space in
        let properties = try check(id: H5Pcreate(trawl_h5p_dataset_create()), "H5Pcreate")
        let dataset = try using(properties, H5Pclose, "property list") { properties in
            try check(H5Pset_chunk(properties, Int32(shape.count), &chunk), "H5Pset_chunk")
            try check(H5Pset_fletcher32(properties), "H5Pset_fletcher32")
            return try check(id: H5Dcreate2(location, name, trawl_h5t_native_float(), space, trawl_h5p_default(),
                                            properties, trawl_h5p_default()), "cannot create dataset \(name)")
        }
        try using(dataset, H5Dclose, "dataset \(name)") { dataset in
            try writeInt64Attribute(dataset, "shape", shape.map(Int64.init))
        }
    }
}

/// Writes `row` (one first-axis slice, `rowCount` elements) at first-axis index `index`.
public func writeFloatRow(_ location: hid_t, _ name: String, index: Int, row: UnsafeBufferPointer<Float>) throws {
    try withDataset(location, name) { dataset in
        try using(try check(id: H5Dget_space(dataset), "H5Dget_space"), H5Sclose, "dataspace") { fileSpace in
            let rank = Int(H5Sget_simple_extent_ndims(fileSpace))
            var extents = [hsize_t](repeating: 0, count: rank)
            try check(H5Sget_simple_extent_dims(fileSpace, &extents, nil), "H5Sget_simple_extent_dims")
            var start = [hsize_t(index)] + [hsize_t](repeating: 0, count: rank - 1)
            var count = [1] + extents.dropFirst()
            try check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil), "H5Sselect_hyperslab")
            try withSpace(count) { memorySpace in
                try check(H5Dwrite(dataset, trawl_h5t_native_float(), memorySpace, fileSpace, trawl_h5p_default(),
                                   row.baseAddress), "cannot write row \(index) of \(name)")
            }
        }
    }
}

/// Reads the row (first-axis slice) at index `index` of a float dataset whose rows hold
/// `count` elements: with one row per chunk, one chunk is read (and decompressed, in files
/// written with deflate).
public func readFloatRow(_ location: hid_t, _ name: String, index: Int, count: Int) throws -> [Float] {
    try withDataset(location, name) { dataset in
        try using(try check(id: H5Dget_space(dataset), "H5Dget_space"), H5Sclose, "dataspace") { fileSpace in
            let rank = Int(H5Sget_simple_extent_ndims(fileSpace))
            var extents = [hsize_t](repeating: 0, count: rank)
            try check(H5Sget_simple_extent_dims(fileSpace, &extents, nil), "H5Sget_simple_extent_dims")
            guard index >= 0, index < Int(extents[0]), extents.dropFirst().reduce(1, *) == hsize_t(count) else {
                throw HDF5Failure(description: "row \(index) of \(count) elements is not in \(name), shape \(extents)")
            }
            var start = [hsize_t(index)] + [hsize_t](repeating: 0, count: rank - 1)
            var selected = [1] + extents.dropFirst()
            try check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &selected, nil), "H5Sselect_hyperslab")
            var values = [Float](repeating: 0, count: count)
            try withSpace(selected) { memorySpace in
                try check(H5Dread(dataset, trawl_h5t_native_float(), memorySpace, fileSpace, trawl_h5p_default(),
                                  &values), "cannot read row \(index) of \(name)")
            }
            return values
        }
    }
}

/// Reads a whole float dataset of `count` elements.
public func readFloats(_ location: hid_t, _ name: String, count: Int) throws -> [Float] {
    try withDataset(location, name) { dataset in
        var values = [Float](repeating: 0, count: count)
        guard count > 0 else { return values }
        try check(H5Dread(dataset, trawl_h5t_native_float(), trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(), &values),
                  "cannot read dataset \(name)")
        return values
    }
}

public func createGroup(_ location: hid_t, _ name: String) throws {
    let group = try check(id: H5Gcreate2(location, name, trawl_h5p_default(), trawl_h5p_default(), trawl_h5p_default()),
                          "cannot create group \(name)")
    try check(H5Gclose(group), "cannot close group \(name)")
}

/// Names of the links in group `name`, sorted.
public func memberNames(_ location: hid_t, _ name: String) throws -> [String] {
    let group = try check(id: H5Gopen2(location, name, trawl_h5p_default()), "cannot open group \(name)")
    return try using(group, H5Gclose, "group \(name)") { group in
        var info = H5G_info_t()
        try check(H5Gget_info(group, &info), "H5Gget_info")
        return try (0..<info.nlinks).map { index in
            let length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, trawl_h5p_default())
            guard length >= 0 else { throw HDF5Failure(description: "cannot read member \(index) of \(name): \(hdf5ErrorMessage())") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                                     trawl_h5p_default()) >= 0 else {
                throw HDF5Failure(description: "cannot read member \(index) of \(name): \(hdf5ErrorMessage())")
            }
            return String(cString: buffer)
        }.sorted()
    }
}

/// Writes `values` as a float32 dataset of `shape` (row-major; chunked and checksummed as
/// ``createFloatDataset(_:_:shape:)``).
public func writeFloats(_ location: hid_t, _ name: String, shape: [Int], _ values: [Float]) throws {
    precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
    try createFloatDataset(location, name, shape: shape)
    guard !values.isEmpty else { return }
    let dataset = try check(id: H5Dopen2(location, name, trawl_h5p_default()), "cannot open dataset \(name)")
    defer { H5Dclose(dataset) }
    try check(H5Dwrite(dataset, trawl_h5t_native_float(), trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(), values),
              "cannot write dataset \(name)")
}

/// Writes `values` as a contiguous float64 dataset of `shape` (row-major).
public func writeDoubles(_ location: hid_t, _ name: String, shape: [Int], _ values: [Double]) throws {
    precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
    var extents = shape.map { hsize_t($0) }
    let space = try check(id: H5Screate_simple(Int32(shape.count), &extents, nil), "H5Screate_simple")
    defer { H5Sclose(space) }
    let dataset = try check(id: H5Dcreate2(location, name, trawl_h5t_native_double(), space, trawl_h5p_default(),
                                           trawl_h5p_default(), trawl_h5p_default()), "cannot create dataset \(name)")
    defer { H5Dclose(dataset) }
    guard !values.isEmpty else { return }
    try check(H5Dwrite(dataset, trawl_h5t_native_double(), trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(), values),
              "cannot write dataset \(name)")
}

/// Reads a whole floating-point dataset (any stored float width) as float64, with its extents.
public func readDoubles(_ location: hid_t, _ name: String) throws -> (shape: [Int], values: [Double]) {
    guard exists(location, name) else { throw HDF5Failure(description: "dataset \(name) is missing") }
    let info = try datasetInfo(location, name)
    guard info.typeClass == H5T_FLOAT else { throw HDF5Failure(description: "dataset \(name) is not floating-point") }
    let dataset = try check(id: H5Dopen2(location, name, trawl_h5p_default()), "cannot open dataset \(name)")
    defer { H5Dclose(dataset) }
    var values = [Double](repeating: 0, count: info.shape.reduce(1, *))
    if !values.isEmpty {
        try check(H5Dread(dataset, trawl_h5t_native_double(), trawl_h5s_all(), trawl_h5s_all(), trawl_h5p_default(),
                          &values), "cannot read dataset \(name)")
    }
    return (info.shape, values)
}

/// Reads a whole float32 dataset with its extents.
public func readFloatDataset(_ location: hid_t, _ name: String) throws -> (shape: [Int], values: [Float]) {
    guard exists(location, name) else { throw HDF5Failure(description: "dataset \(name) is missing") }
    let info = try datasetInfo(location, name)
    guard info.typeClass == H5T_FLOAT, info.typeSize == 4 else {
        throw HDF5Failure(description: "dataset \(name) is not float32")
    }
    return (info.shape, try readFloats(location, name, count: info.shape.reduce(1, *)))
}

public func writeDoubleAttribute(_ location: hid_t, _ name: String, _ value: Double) throws {
    let space = try check(id: H5Screate(H5S_SCALAR), "H5Screate")
    defer { H5Sclose(space) }
    let attribute = try check(id: H5Acreate2(location, name, trawl_h5t_native_double(), space, trawl_h5p_default(),
                                             trawl_h5p_default()), "cannot create attribute \(name)")
    defer { H5Aclose(attribute) }
    var copy = value
    try check(H5Awrite(attribute, trawl_h5t_native_double(), &copy), "cannot write attribute \(name)")
}

public func readDoubleAttribute(_ location: hid_t, _ name: String) throws -> Double {
    guard H5Aexists(location, name) > 0 else { throw HDF5Failure(description: "attribute \(name) is missing") }
    let attribute = try check(id: H5Aopen(location, name, trawl_h5p_default()), "cannot open attribute \(name)")
    defer { H5Aclose(attribute) }
    let space = try check(id: H5Aget_space(attribute), "H5Aget_space")
    defer { H5Sclose(space) }
    guard H5Sget_simple_extent_npoints(space) == 1 else { throw HDF5Failure(description: "attribute \(name) is not a scalar") }
    var value = 0.0
    try check(H5Aread(attribute, trawl_h5t_native_double(), &value), "cannot read attribute \(name)")
    return value
}

/// Opens group `name` of `location`; the caller closes it with `H5Gclose`.
public func openGroup(_ location: hid_t, _ name: String) throws -> hid_t {
    guard exists(location, name) else { throw HDF5Failure(description: "group \(name) is missing") }
    return try check(id: H5Gopen2(location, name, trawl_h5p_default()), "cannot open group \(name)")
}

/// Creates group `name` of `location` and returns it open; the caller closes it with `H5Gclose`.
public func createOpenGroup(_ location: hid_t, _ name: String) throws -> hid_t {
    try check(id: H5Gcreate2(location, name, trawl_h5p_default(), trawl_h5p_default(), trawl_h5p_default()),
              "cannot create group \(name)")
}
