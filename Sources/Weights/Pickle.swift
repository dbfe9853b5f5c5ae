/// A value produced by the pickle subset that `torch.save` writes.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too wide for `Int`: little-endian two's complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A class or function named by GLOBAL / STACK_GLOBAL.
    case global(module: String, name: String)
    /// A call of a global that the loader does not interpret (kept to name it in errors).
    case object(type: String)
    /// A persistent id that the loader resolved (a torch storage).
    case storage(TorchStorageReference)
    /// A rebuilt torch tensor (not yet materialised).
    case tensor(TorchTensorReference)

    /// A short description for error messages.
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case let .global(module, name): return "the global \(module).\(name)"
        case let .object(type): return "a \(type) object"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }
}

/// A pickled list; a reference type because pickle mutates lists after memoising them.
final class PickleList {
    var items: [PickleValue] = []
}

/// A pickled dict (or `collections.OrderedDict`), keys in insertion order.
final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []
}

/// Interprets the pickle opcodes `torch.save` emits (protocols 2–5) and
/// nothing else; any other opcode is an ``WeightsError/unsupported(file:key:detail:)``.
///
/// Calls (REDUCE, NEWOBJ) are interpreted for `collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_tensor` and
/// `torch._utils._rebuild_parameter`; other calls become opaque
/// ``PickleValue/object(type:)`` values. BUILD state is ignored (state dicts
/// only use it for `OrderedDict._metadata`).
struct Unpickler {
    /// Resolves a persistent id (BINPERSID) to a value.
    var persistentLoad: (PickleValue) throws -> PickleValue

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.persistentLoad = persistentLoad
    }

    /// Reads one pickle (through STOP) starting at `cursor.position`.
    mutating func load(_ cursor: inout ByteCursor) throws -> PickleValue {
        stack = []
        marks = []
        memo = [:]
        let file = cursor.file
        func malformed(_ detail: String) -> WeightsError {
            .malformed(file: file, detail: "pickle at offset \(cursor.position): \(detail)")
        }
        while true {
            let opcode = try cursor.byte("a pickle opcode")
            switch opcode {
            case 0x80: // PROTO
                let version = try cursor.byte("the pickle protocol")
                guard version >= 2 && version <= 5 else {
                    throw WeightsError.unsupported(file: file, key: nil, detail: "pickle protocol \(version)")
                }
            case 0x95: // FRAME: a length prefix only; frames are read inline.
                _ = try cursor.unsigned(8, "a FRAME length")
            case 0x2E: // STOP
                guard let result = stack.popLast(), stack.isEmpty else { throw malformed("STOP with \(stack.count) values") }
                return result
            case 0x28: // MARK
                marks.append(stack.count)
            case 0x7D: stack.append(.dict(PickleDict()))   // EMPTY_DICT
            case 0x5D: stack.append(.list(PickleList()))   // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))            // EMPTY_TUPLE
            case 0x4E: stack.append(.none)                 // NONE
            case 0x88: stack.append(.bool(true))           // NEWTRUE
            case 0x89: stack.append(.bool(false))          // NEWFALSE
            case 0x4A: // BININT
                stack.append(.int(Int(Int32(bitPattern: UInt32(try cursor.unsigned(4, "BININT"))))))
            case 0x4B: stack.append(.int(Int(try cursor.byte("BININT1"))))            // BININT1
            case 0x4D: stack.append(.int(Int(try cursor.unsigned(2, "BININT2"))))     // BININT2
            case 0x8A: // LONG1
                let count = Int(try cursor.byte("a LONG1 length"))
                stack.append(Self.integer(Array(try cursor.take(count, "LONG1 digits"))))
            case 0x8B: // LONG4
                let count = Int(try cursor.unsigned(4, "a LONG4 length"))
                stack.append(Self.integer(Array(try cursor.take(count, "LONG4 digits"))))
            case 0x47: // BINFLOAT: big-endian IEEE double
                let raw = try cursor.take(8, "BINFLOAT")
                var bits: UInt64 = 0
                for b in raw { bits = bits << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x58: // BINUNICODE
                let count = Int(try cursor.unsigned(4, "a BINUNICODE length"))
                stack.append(.string(String(decoding: try cursor.take(count, "BINUNICODE text"), as: UTF8.self)))
            case 0x8C: // SHORT_BINUNICODE
                let count = Int(try cursor.byte("a SHORT_BINUNICODE length"))
                stack.append(.string(String(decoding: try cursor.take(count, "SHORT_BINUNICODE text"), as: UTF8.self)))
            case 0x8D: // BINUNICODE8
                let count = Int(try cursor.unsigned(8, "a BINUNICODE8 length"))
                stack.append(.string(String(decoding: try cursor.take(count, "BINUNICODE8 text"), as: UTF8.self)))
            case 0x55: // SHORT_BINSTRING (Python 2 str)
                let count = Int(try cursor.byte("a SHORT_BINSTRING length"))
                stack.append(.string(String(decoding: try cursor.take(count, "SHORT_BINSTRING text"), as: UTF8.self)))
            case 0x54: // BINSTRING
                let count = Int(try cursor.unsigned(4, "a BINSTRING length"))
                stack.append(.string(String(decoding: try cursor.take(count, "BINSTRING text"), as: UTF8.self)))
            case 0x43: // SHORT_BINBYTES
                let count = Int(try cursor.byte("a SHORT_BINBYTES length"))
                stack.append(.bytes(Array(try cursor.take(count, "SHORT_BINBYTES"))))
            case 0x42: // BINBYTES
                let count = Int(try cursor.unsigned(4, "a BINBYTES length"))
                stack.append(.bytes(Array(try cursor.take(count, "BINBYTES"))))
            case 0x74: // TUPLE
                stack.append(.tuple(try popToMark(file: file)))
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode - 0x84)
                guard stack.count >= count else { throw malformed("TUPLE\(count) on \(stack.count) values") }
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                stack.append(.tuple(items))
            case 0x63: // GLOBAL
                let module = try cursor.line("a GLOBAL module")
                let name = try cursor.line("a GLOBAL name")
                stack.append(.global(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                guard case let .string(name)? = stack.popLast(), case let .string(module)? = stack.popLast() else {
                    throw malformed("STACK_GLOBAL without module and name strings")
                }
                stack.append(.global(module: module, name: name))
            case 0x52: // REDUCE
                guard let arguments = stack.popLast(), let callable = stack.popLast(),
                      case let .tuple(args) = arguments else { throw malformed("REDUCE without callable and argument tuple") }
                stack.append(try call(callable, args, file: file))
            case 0x81: // NEWOBJ
                guard let arguments = stack.popLast(), let callable = stack.popLast(),
                      case let .tuple(args) = arguments else { throw malformed("NEWOBJ without class and argument tuple") }
                stack.append(try call(callable, args, file: file))
            case 0x62: // BUILD
                guard stack.popLast() != nil, !stack.isEmpty else { throw malformed("BUILD without object and state") }
            case 0x51: // BINPERSID
                guard let pid = stack.popLast() else { throw malformed("BINPERSID on an empty stack") }
                stack.append(try persistentLoad(pid))
            case 0x73: // SETITEM
                guard stack.count >= 3 else { throw malformed("SETITEM on \(stack.count) values") }
                let value = stack.removeLast(), key = stack.removeLast()
                guard case let .dict(dict) = stack[stack.count - 1] else { throw malformed("SETITEM on \(stack[stack.count - 1].kind)") }
                dict.items.append((key, value))
            case 0x75: // SETITEMS
                let items = try popToMark(file: file)
                guard items.count % 2 == 0, case let .dict(dict)? = stack.last else { throw malformed("SETITEMS without a dict") }
                for i in stride(from: 0, to: items.count, by: 2) { dict.items.append((items[i], items[i + 1])) }
            case 0x61: // APPEND
                guard stack.count >= 2 else { throw malformed("APPEND on \(stack.count) values") }
                let value = stack.removeLast()
                guard case let .list(list) = stack[stack.count - 1] else { throw malformed("APPEND on \(stack[stack.count - 1].kind)") }
                list.items.append(value)
            case 0x65: // APPENDS
                let items = try popToMark(file: file)
                guard case let .list(list)? = stack.last else { throw malformed("APPENDS without a list") }
                list.items.append(contentsOf: items)
            case 0x71: try put(Int(try cursor.byte("a BINPUT index")), file: file)          // BINPUT
            case 0x72: try put(Int(try cursor.unsigned(4, "a LONG_BINPUT index")), file: file) // LONG_BINPUT
            case 0x94: try put(memo.count, file: file)                                      // MEMOIZE
            case 0x68: try get(Int(try cursor.byte("a BINGET index")), file: file)          // BINGET
            case 0x6A: try get(Int(try cursor.unsigned(4, "a LONG_BINGET index")), file: file) // LONG_BINGET
            case 0x30: // POP
                guard stack.popLast() != nil else { throw malformed("POP on an empty stack") }
            case 0x31: // POP_MARK
                _ = try popToMark(file: file)
            case 0x32: // DUP
                guard let top = stack.last else { throw malformed("DUP on an empty stack") }
                stack.append(top)
            default:
                throw WeightsError.unsupported(
                    file: file, key: nil,
                    detail: "pickle opcode 0x\(String(opcode, radix: 16)) at offset \(cursor.position - 1)")
            }
        }
    }

    private mutating func popToMark(file: String) throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw WeightsError.malformed(file: file, detail: "pickle: no MARK to pop to")
        }
        let items = Array(stack[mark...])
        stack.removeLast(stack.count - mark)
        return items
    }

    private mutating func put(_ index: Int, file: String) throws {
        guard let top = stack.last else { throw WeightsError.malformed(file: file, detail: "pickle: memo put on an empty stack") }
        memo[index] = top
    }

    private mutating func get(_ index: Int, file: String) throws {
        guard let value = memo[index] else { throw WeightsError.malformed(file: file, detail: "pickle: memo \(index) unset") }
        stack.append(value)
    }

    /// Little-endian two's complement bytes as `.int` when they fit, else `.bigInt`.
    private static func integer(_ digits: [UInt8]) -> PickleValue {
        guard !digits.isEmpty else { return .int(0) }
        guard digits.count <= 8 else { return .bigInt(digits) }
        var value: UInt64 = 0
        for (i, b) in digits.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        let shift = UInt64(64 - 8 * digits.count)
        return .int(Int(Int64(bitPattern: value << shift) >> Int64(shift)))  // sign-extend
    }

    /// Applies `callable` to `args` for the calls state dicts contain.
    private func call(_ callable: PickleValue, _ args: [PickleValue], file: String) throws -> PickleValue {
        guard case let .global(module, name) = callable else {
            throw WeightsError.malformed(file: file, detail: "pickle: call of \(callable.kind)")
        }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            return .tensor(try TorchTensorReference(arguments: args, file: file))
        case ("torch._utils", "_rebuild_parameter"):
            guard case .tensor? = args.first else {
                throw WeightsError.unsupported(file: file, key: nil, detail: "a Parameter wrapping \(args.first?.kind ?? "nothing")")
            }
            return args[0]
        default:
            return .object(type: "\(module).\(name)")
        }
    }
}
