import Backbones
import Datasets
import FileErrors
import Foundation
import Images
import Scorers

extension ExperimentSpec {
    /// Every object shape the decoder accepts, one per `$defs` entry of
    /// `Experiments/schema.json` (the top level is `experiment`).
    public static let shapes: [ObjectShape] = [
        Shapes.experiment, Shapes.backbone, Shapes.tiling, Shapes.features, Shapes.classifier, Shapes.outputs,
        Shapes.tolerances, Shapes.qualityComparison,
    ] + Array(Shapes.datasets.values) + Array(Shapes.scorers.values)
        + Array(Shapes.thresholdRules.values) + Array(Shapes.indexes.values)

    /// The largest spec file accepted, in bytes.
    public static let maximumFileSize = 1 << 20

    /// Grid points a spec may expand to unless it sets `max_grid_points`.
    public static let defaultMaxGridPoints = 10_000
    /// The highest `max_grid_points` a spec may set.
    public static let gridPointsCeiling = 1_000_000

    /// Reads and checks the spec at `url`. `file` names it in errors (default: the path as
    /// given); `environment` expands `$VAR` in paths.
    public init(contentsOf url: URL, file: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let file = file ?? url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SpecError(file: file, path: .root, reason: "cannot read the file (\(FileErrorDescription.reason(error)))")
        }
        try self.init(data: data, file: file, directory: url.deletingLastPathComponent(),
                      expectedName: url.deletingPathExtension().lastPathComponent, environment: environment)
    }

    /// Reads and checks a spec from its bytes. Relative paths resolve against `directory`;
    /// `expectedName`, when given, must equal the spec's `name`.
    public init(data: Data, file: String, directory: URL, expectedName: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard data.count <= Self.maximumFileSize else {
            throw SpecError(file: file, path: .root, reason: "\(data.count) bytes is too large for a spec; "
                            + "allowed: at most \(Self.maximumFileSize) bytes (1 MiB)")
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: data)
        } catch where error.isDuplicateKey {
            throw SpecError(file: file, path: error.path,
                            reason: "duplicate key (line \(error.line)); each key may appear once per object")
        } catch {
            throw SpecError(file: file, path: .root, reason: "not valid JSON (\(error))")
        }
        let context = DecodingContext(directory: directory, environment: environment)
        let top = try ValueReader(value: document, path: .root, file: file).object(Shapes.experiment)

        let nameReader = try top.required("name")
        name = try nameReader.nonEmptyString()
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
              !name.hasPrefix(".") else {
            throw nameReader.error("\"\(name)\" is not allowed; use letters, digits, \"-\", \"_\" and \".\" (it names the results folder)")
        }
        if let expectedName, name != expectedName {
            throw nameReader.error("\"\(name)\" must equal the file name \"\(expectedName)\" (without .json)")
        }
        description = try top["description"]?.string() ?? ""
        seed = try top["seed"].map { UInt64(try $0.int(in: 0...(1 << 53))) } ?? 0
        // Count the grid before anything expands it: a sweep of two 65,536-value lists
        // would otherwise build 4.3 billion points. Dataset points are counted first, as they
        // are expanded while decoding.
        let maxGridPoints = try top["max_grid_points"]?.int(in: 1...Self.gridPointsCeiling) ?? Self.defaultMaxGridPoints
        func tooManyPoints(_ size: Int) -> SpecError {
            let count = size == Int.max ? "more than \(Int.max)" : "\(size)"
            return SpecError(file: file, path: top["max_grid_points"]?.path ?? .root,
                             reason: "the sweeps make \(count) grid points, more than the limit of \(maxGridPoints); "
                             + "sweep fewer values, or raise \"max_grid_points\" (at most \(Self.gridPointsCeiling))")
        }
        datasets = try decodeDatasets(try top.required("dataset"), seed: seed, context: context,
                                      maxPoints: maxGridPoints, tooManyPoints: tooManyPoints)
        qualityFilter = try (try top.required("dataset").objectFields()["quality"]).map {
            try decodeQualityPredicate(ValueReader(value: $0, path: JSONPath.root.appending("dataset").appending("quality"),
                                                   file: file))
        }
        backbone = try decodeBackbone(try top.required("backbone"), context: context)
        scorer = try decodeScorer(try top.required("scorer"))
        if let given = top["features"], scorer.kind != "patchcore" {
            throw given.error("patch features apply to the patchcore scorer; \"\(scorer.kind)\" uses "
                              + "global-average-pooled taps (remove \"features\")")
        }
        features = try decodeFeatures(top["features"])
        if backbone.tiling != nil, features.augment.values != [[]],
           let augment = try top["features"]?.object(Shapes.features)["augment"] {
            throw augment.error("does not apply with backbone.tiling (augmented copies are made of the resized and "
                                + "centre-cropped input; remove \"augment\" or \"tiling\")")
        }
        classifier = try decodeClassifier(top["classifier"])

        metrics = [.auroc, .ap, .f1Max]
        if let list = top["metrics"] {
            metrics = []
            for item in try list.array(nonEmpty: true) {
                let metric = MetricName(rawValue: try item.choice(MetricName.allCases.map(\.rawValue)))!
                guard !metrics.contains(metric) else { throw item.error("\"\(metric.rawValue)\" is listed twice") }
                if metric == .pixelAUROC || metric == .aupro, scorer.kind != "patchcore" {
                    throw item.error("\"\(metric.rawValue)\" needs anomaly maps, which only the patchcore scorer makes")
                }
                if metric == .mapAt20 || metric == .fathomnetScore, classifier == nil {
                    throw item.error("\"\(metric.rawValue)\" needs a \"classifier\" section (the species classifier it scores)")
                }
                metrics.append(metric)
            }
        }
        threshold = try decodeThreshold(top["threshold"])
        outputs = try decodeOutputs(top["outputs"], scorer: scorer)
        tolerances = Dictionary(uniqueKeysWithValues: metrics.map { ($0, 0.005) })
        if let object = try top["tolerances"]?.object(Shapes.tolerances) {
            for key in object.fields.keys.sorted() {
                guard let reader = object[key] else { continue }
                let metric = MetricName(rawValue: key)!
                guard metrics.contains(metric) else {
                    throw reader.error("a tolerance for \"\(key)\", which \"metrics\" does not list")
                }
                tolerances[metric] = try reader.double(in: .closed(0, 1))
            }
        }
        if gridSize > maxGridPoints { throw tooManyPoints(gridSize) }
    }
}

/// The most images `max_train_images` and `max_test_images_per_class` may name.
private let maximumImageCount = 100_000_000

/// What path values are resolved with.
private struct DecodingContext {
    var directory: URL
    var environment: [String: String]

    /// Expands `$VAR`s, then anchors a relative path at the spec's folder.
    func path(_ reader: ValueReader) throws -> String {
        let expanded: String
        do {
            expanded = try expandEnvironment(try reader.nonEmptyString(), environment)
        } catch let error as EnvironmentExpansionError {
            throw reader.error(error.reason)
        }
        if expanded.hasPrefix("/") { return expanded }
        return directory.appendingPathComponent(expanded).standardizedFileURL.path
    }
}

/// Object shapes, named as in the schema's `$defs`.
enum Shapes {
    static let experiment = ObjectShape(
        "experiment", required: ["name", "dataset", "backbone", "scorer"],
        optional: ["$schema", "description", "features", "classifier", "metrics", "threshold", "seed", "outputs", "tolerances",
                   "max_grid_points"])

    static let split = ["train_fraction", "max_train_images", "seed", "quality"]
    static let datasets: [String: ObjectShape] = [
        "mvtec": ObjectShape("mvtecDataset", required: ["kind", "root"], optional: ["quality"]),
        "folders": ObjectShape("foldersDataset", required: ["kind", "root"],
                               optional: ["normal_folders", "anomalous_folders"] + split),
        "elpv": ObjectShape("elpvDataset", required: ["kind", "root"],
                            optional: ["fail_probability", "cell_type"] + split),
        "fashion-mnist": ObjectShape("fashionMnistDataset", required: ["kind", "root", "normal_classes"],
                                     optional: ["max_train_images", "max_test_images_per_class", "seed", "quality"]),
        "manifest": ObjectShape("manifestDataset", required: ["kind", "path", "label"],
                                optional: ["format", "image_column", "mask_column", "train", "test"] + split),
    ]

    static let backbone = ObjectShape("backbone", required: ["name"],
                                      optional: ["weights", "taps", "resize", "input_size", "tiling"])
    static let tiling = ObjectShape("tiling", required: [], optional: ["tile", "stride", "scale"])
    static let features = ObjectShape("features", required: [], optional: ["pooling", "pretrain_dim", "target_dim", "augment"])

    static let scorers: [String: ObjectShape] = [
        "patchcore": ObjectShape("patchcoreScorer", required: ["kind"],
                                 optional: ["coreset_ratio", "k", "metric", "reweighting", "projection_dim", "blur_sigma",
                                            "map_normalization", "map_max_filter", "coreset_shards", "index"]),
        "knn": ObjectShape("knnScorer", required: ["kind"], optional: ["k", "metric", "aggregate", "scale", "index"]),
        "mahalanobis": ObjectShape("mahalanobisScorer", required: ["kind"], optional: ["estimator", "ridge"]),
        "gmm": ObjectShape("gmmScorer", required: ["kind"],
                           optional: ["components", "covariance", "iterations", "regularization"]),
        "ocsvm": ObjectShape("ocsvmScorer", required: ["kind"], optional: ["nu", "gamma"]),
    ]

    static let indexes: [String: ObjectShape] = [
        "exact": ObjectShape("exactIndex", required: ["kind"]),
        "ivf_flat": ObjectShape("ivfFlatIndex", required: ["kind"], optional: ["lists", "probe"]),
        "hnsw": ObjectShape("hnswIndex", required: ["kind"], optional: ["m", "ef_search"]),
        "ivf_pq": ObjectShape("ivfPqIndex", required: ["kind"], optional: ["lists", "code_bytes", "probe", "rerank"]),
    ]

    static let thresholdRules: [String: ObjectShape] = [
        "f1_max": ObjectShape("f1MaxThreshold", required: ["rule"]),
        "train_percentile": ObjectShape("trainPercentileThreshold", required: ["rule", "percentile"]),
        "fixed": ObjectShape("fixedThreshold", required: ["rule", "value"]),
    ]
    static let classifier = ObjectShape("classifier", required: ["labels_column"],
                                        optional: ["separator", "regularization", "top_k"])
    static let outputs = ObjectShape("outputs", required: [], optional: ["heatmaps", "overlays", "model"])
    static let qualityComparison = ObjectShape("qualityComparison", required: ["column", "op", "value"])
    static let tolerances = ObjectShape("tolerances", required: [], optional: MetricName.allCases.map(\.rawValue))
}

/// Reads the `kind` (or `rule`) of a tagged object, then checks the object against the
/// shape for that kind.
private func taggedObject(_ reader: ValueReader, tag: String, shapes: [String: ObjectShape],
                          order: [String]) throws -> (String, ObjectReader) {
    let fields = try reader.objectFields()
    guard let tagValue = fields[tag] else {
        throw reader.error("missing required key \"\(tag)\" (one of \(order.map { "\"\($0)\"" }.joined(separator: ", ")))")
    }
    let kind = try ValueReader(value: tagValue, path: reader.path.appending(tag), file: reader.file).choice(order)
    return (kind, try reader.object(shapes[kind]!))
}

/// Dataset fields holding one value, which a list sweeps: `"cell_type": ["mono", "poly"]`.
private let sweepableScalarFields = ["fail_probability", "cell_type", "train_fraction", "max_train_images",
                                     "max_test_images_per_class", "seed"]
/// Dataset fields holding a list, which a list of lists sweeps: `"normal_classes": [[0], [1]]`.
private let sweepableListFields = ["normal_classes", "normal_folders", "anomalous_folders"]
/// Manifest fields holding predicates, whose `value`s may be swept.
private let predicateFields = ["label", "train", "test"]

/// A swept dataset field: where it sits in the dataset object, its column name and values.
private struct DatasetSweep {
    var location: [JSONPath.Component]
    var name: String
    var values: [ValueReader]
}

/// Reads the dataset object and expands its swept fields into dataset points (cartesian
/// product in field order, the last varying fastest). Every value is checked where it is
/// written (`dataset.cell_type[2]`) before the points are decoded; more than `maxPoints`
/// points is the error `tooManyPoints` makes of their count, before any is built.
private func decodeDatasets(_ reader: ValueReader, seed: UInt64, context: DecodingContext, maxPoints: Int,
                            tooManyPoints: (Int) -> SpecError) throws -> [DatasetPoint] {
    let (kind, object) = try taggedObject(reader, tag: "kind", shapes: Shapes.datasets, order: DatasetConfiguration.kinds)
    var fields = try reader.objectFields()
    fields["quality"] = nil  // decoded by decodeQualityPredicate: not swept, one filter for every point
    for key in ["root", "path"] where object[key] != nil {
        fields[key] = .string(try context.path(object[key]!))
    }
    if object["seed"] == nil, kind != "mvtec" { fields["seed"] = .number(Double(seed)) }

    var sweeps = [DatasetSweep]()
    for key in Shapes.datasets[kind]!.keys {
        guard let value = object[key] else { continue }
        if sweepableScalarFields.contains(key) || sweepableListFields.contains(key) {
            let items = try sweptValues(value, holdsList: sweepableListFields.contains(key))
            for item in items ?? [value] { try checkDatasetField(key, item) }
            if let items { sweeps.append(DatasetSweep(location: [.key(key)], name: key, values: items)) }
        } else if predicateFields.contains(key) {
            try collectPredicateSweeps(value, location: [.key(key)], name: key, into: &sweeps)
        } else {
            try checkDatasetField(key, value)
        }
    }

    let count = product(sweeps.map(\.values.count))
    if count > maxPoints { throw tooManyPoints(count) }
    var points: [(fields: JSONValue, parameters: [Parameter])] = [(.object(fields), [])]
    for sweep in sweeps {
        points = points.flatMap { point in
            sweep.values.map { item in
                (point.fields.replacing(at: sweep.location[...], with: item.value),
                 point.parameters + [Parameter(name: sweep.name, value: renderSweptValue(item.value))])
            }
        }
    }
    return try points.enumerated().map { index, point in
        DatasetPoint(index: index, configuration: try decodeDatasetConfiguration(point.fields, base: reader),
                     parameters: point.parameters)
    }
}

/// The values of a swept field, or nil when `reader` holds one value: a list sweeps a
/// one-value field; a list of lists sweeps a list field. Repeated values are an error.
private func sweptValues(_ reader: ValueReader, holdsList: Bool) throws -> [ValueReader]? {
    guard case .array(let items) = reader.value else { return nil }
    if holdsList { guard case .array? = items.first else { return nil } }
    let values = try reader.array(nonEmpty: true)
    for (index, item) in values.enumerated() where values[..<index].contains(where: { $0.value == item.value }) {
        throw item.error("the value is listed twice in this sweep")
    }
    return values
}

/// Type and range checks of the dataset fields the Datasets decoders do not make.
private func checkDatasetField(_ key: String, _ reader: ValueReader) throws {
    switch key {
    case "train_fraction": _ = try reader.double(in: .closed(0, 1))
    case "max_train_images", "max_test_images_per_class": _ = try reader.int(in: 1...maximumImageCount)
    case "fail_probability": _ = try reader.double(in: .openClosed(0, 1))
    case "cell_type": _ = try reader.choice(["all", "mono", "poly"])
    case "format": _ = try reader.choice(["csv", "fathomnet"])
    case "seed": _ = try reader.int(in: 0...(1 << 53))
    case "normal_folders", "anomalous_folders": _ = try reader.array(nonEmpty: true).map { try $0.nonEmptyString() }
    case "normal_classes": _ = try reader.array(nonEmpty: true).map { try $0.int(in: 0...9) }
    default: break
    }
}

/// Finds swept `value`s in a predicate (`{"column", "op", "value"}`, `{"all": […]}`,
/// `{"any": […]}`, a label rule's `anomalous_when`): a list sweeps a comparison's value,
/// a list of lists an `in` list. Named by their path in the dataset (`train.all[1].value`).
private func collectPredicateSweeps(_ reader: ValueReader, location: [JSONPath.Component], name: String,
                                    into sweeps: inout [DatasetSweep]) throws {
    guard case .object(let fields) = reader.value else { return }  // the Datasets decoder reports it
    let child = { (key: String) in ValueReader(value: fields[key]!, path: reader.path.appending(key), file: reader.file) }
    if fields["value"] != nil, case .string(let op)? = fields["op"] {
        let value = child("value")
        if let items = try sweptValues(value, holdsList: op == "in") {
            sweeps.append(DatasetSweep(location: location + [.key("value")], name: name + ".value", values: items))
        }
    }
    if fields["anomalous_when"] != nil {
        try collectPredicateSweeps(child("anomalous_when"), location: location + [.key("anomalous_when")],
                                   name: name + ".anomalous_when", into: &sweeps)
    }
    for key in ["all", "any"] where fields[key] != nil {
        guard case .array(let items) = fields[key]! else { continue }
        for index in items.indices {
            let item = ValueReader(value: items[index], path: child(key).path.appending(index: index), file: reader.file)
            try collectPredicateSweeps(item, location: location + [.key(key), .index(index)],
                                       name: "\(name).\(key)[\(index)]", into: &sweeps)
        }
    }
}

/// A swept value as a table cell: numbers as the spec writes them, lists joined by `+`
/// (`"normal_classes": [0, 1]` → `0+1`).
private func renderSweptValue(_ value: JSONValue) -> String {
    switch value {
    case .number(let number): return formatNumber(number)
    case .string(let text): return text
    case .bool(let flag): return String(flag)
    case .array(let items): return items.map(renderSweptValue).joined(separator: "+")
    case .null, .object: return value.excerpt
    }
}

/// Hands one dataset point's fields (single values, paths resolved) to the Datasets
/// configuration decoders (camelCase keys) for the kind-specific rest.
private func decodeDatasetConfiguration(_ fields: JSONValue, base reader: ValueReader) throws -> DatasetConfiguration {
    do {
        let data = try JSONSerialization.data(withJSONObject: foundationObject(fields))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(DatasetConfiguration.self, from: data)
    } catch let error as DecodingError {
        throw translate(error, base: reader)
    }
}

extension JSONValue {
    /// The value with the element at `location` (object keys, array indices) replaced.
    fileprivate func replacing(at location: ArraySlice<JSONPath.Component>, with replacement: JSONValue) -> JSONValue {
        guard let first = location.first else { return replacement }
        switch (self, first) {
        case (.object(var fields), .key(let key)):
            fields[key] = fields[key]?.replacing(at: location.dropFirst(), with: replacement)
            return .object(fields)
        case (.array(var items), .index(let index)):
            items[index] = items[index].replacing(at: location.dropFirst(), with: replacement)
            return .array(items)
        default:
            return self
        }
    }
}

/// A DecodingError from the Datasets decoders as a SpecError at its (snake_case) path.
private func translate(_ error: DecodingError, base: ValueReader) -> SpecError {
    func snakeCase(_ key: String) -> String {
        key.reduce(into: "") { text, c in text += c.isUppercase ? "_" + c.lowercased() : String(c) }
    }
    func located(_ codingPath: [CodingKey], _ reason: String) -> SpecError {
        var path = base.path
        for key in codingPath {
            if let index = key.intValue { path = path.appending(index: index) } else { path = path.appending(snakeCase(key.stringValue)) }
        }
        return SpecError(file: base.file, path: path, reason: reason)
    }
    switch error {
    case .typeMismatch(let type, let context):
        return located(context.codingPath, "expected \(type), \(context.debugDescription)")
    case .valueNotFound(let type, let context):
        return located(context.codingPath, "expected \(type), got null")
    case .keyNotFound(let key, let context):
        return located(context.codingPath, "missing required key \"\(snakeCase(key.stringValue))\"")
    case .dataCorrupted(let context):
        return located(context.codingPath, context.debugDescription)
    @unknown default:
        return located([], "\(error)")
    }
}

private func decodeBackbone(_ reader: ValueReader, context: DecodingContext) throws -> BackboneSpec {
    let object = try reader.object(Shapes.backbone)
    let name = try object.required("name").choice(BackboneSpec.names)
    let weights = try object["weights"].map { try context.path($0) }
    let available = try BackboneRegistry.descriptor(named: name, assets: context.directory).taps
    var taps = ["stride8", "stride16"]
    if let list = object["taps"] {
        taps = []
        for item in try list.array(nonEmpty: true) {
            let given = try item.choice(available.map(\.alias) + available.map(\.name))
            let tap = available.first { $0.name == given || $0.alias == given }!.alias
            guard !taps.contains(tap) else { throw item.error("\"\(given)\" is listed twice (as \(tap))") }
            taps.append(tap)
        }
    }
    let tiling = try object["tiling"].map(decodeTiling)
    if tiling != nil, let fixedSize = object["resize"] ?? object["input_size"] {
        throw fixedSize.error("does not apply with tiling (tiles see the image at its own size times tiling.scale)")
    }
    let inputSize = try object["input_size"]?.int(in: 32...4096) ?? 224
    let resizeReader = object["resize"]
    let resize = try resizeReader?.int(in: 32...4096) ?? inputSize
    if let resizeReader, resize < inputSize {
        throw resizeReader.error("\(resize) is smaller than input_size \(inputSize); allowed: an integer ≥ \(inputSize)")
    }
    return BackboneSpec(name: name, weights: weights, taps: taps, resize: resize, inputSize: inputSize, tiling: tiling)
}

private func decodeTiling(_ reader: ValueReader) throws -> Tiling {
    let object = try reader.object(Shapes.tiling)
    let defaults = Tiling()
    let tile = try object["tile"]?.int(in: 32...4096) ?? defaults.tile
    let stride = try object["stride"]?.int(in: 1...4096) ?? defaults.stride
    if stride > tile {
        throw (object["stride"] ?? reader).error("\(stride) is larger than tile \(tile) (tiles would leave gaps); allowed: an integer in [1, \(tile)]")
    }
    let scale = try object["scale"]?.double(in: .openClosed(0, 4)) ?? defaults.scale
    return Tiling(tile: tile, stride: stride, scale: scale)
}

private func decodeFeatures(_ reader: ValueReader?) throws -> FeatureSpec {
    guard let object = try reader?.object(Shapes.features) else {
        return FeatureSpec(pooling: Sweep(3), pretrainDim: Sweep(nil), targetDim: Sweep(nil), augment: Sweep([]))
    }
    let pooling = try object["pooling"]?.sweep { item -> Int in
        let kernel = try item.int(in: 1...15)
        guard kernel % 2 == 1 else { throw item.error("\(kernel) is even; allowed: an odd integer in [1, 15]") }
        return kernel
    } ?? Sweep(3)
    func dimension(_ key: String) throws -> Sweep<Int?> {
        try object[key]?.sweep { item -> Int? in try item.int(in: 1...65536) } ?? Sweep(nil)
    }
    return FeatureSpec(pooling: pooling, pretrainDim: try dimension("pretrain_dim"), targetDim: try dimension("target_dim"),
                       augment: try object["augment"].map(decodeAugmentations) ?? Sweep([]))
}

/// `["hflip", "rot90"]` (one set of augmentations) or a list of such lists (a sweep,
/// `[]` = none); each set is stored in `Augmentation.allCases` order.
private func decodeAugmentations(_ reader: ValueReader) throws -> Sweep<[Augmentation]> {
    func augmentations(_ reader: ValueReader) throws -> [Augmentation] {
        var chosen = Set<Augmentation>()
        for item in try reader.array() {
            let augmentation = Augmentation(rawValue: try item.choice(Augmentation.allCases.map(\.rawValue)))!
            guard chosen.insert(augmentation).inserted else { throw item.error("\"\(augmentation.rawValue)\" is listed twice") }
        }
        return Augmentation.allCases.filter(chosen.contains)
    }
    let items = try reader.array()
    guard items.contains(where: { if case .array = $0.value { return true } else { return false } }) else {
        return Sweep(try augmentations(reader))
    }
    return try reader.sweep(augmentations)
}

private func decodeScorer(_ reader: ValueReader) throws -> ScorerSpec {
    let (kind, object) = try taggedObject(reader, tag: "kind", shapes: Shapes.scorers, order: ScorerSpec.kinds)
    func k(default value: Int) throws -> Sweep<Int> {
        try object["k"]?.sweep { try $0.int(in: 1...1024) } ?? Sweep(value)
    }
    func metric() throws -> Sweep<DistanceName> {
        try object["metric"]?.sweep { DistanceName(rawValue: try $0.choice(DistanceName.allCases.map(\.rawValue)))! }
            ?? Sweep(.euclidean)
    }
    func index() throws -> Sweep<ApproximateSearch.Kind?> {
        try object["index"]?.sweep(decodeIndex) ?? Sweep(nil)
    }
    switch kind {
    case "patchcore":
        return .patchcore(PatchCoreSpec(
            coresetRatio: try object["coreset_ratio"]?.sweep { try $0.double(in: .openClosed(0, 1)) } ?? Sweep(0.1),
            k: try k(default: 1),
            metric: try metric(),
            reweighting: try object["reweighting"]?.sweep { try $0.bool() } ?? Sweep(false),
            projectionDim: try object["projection_dim"]?.int(in: 1...4096) ?? 128,
            blurSigma: try object["blur_sigma"]?.double(in: .closed(0, 64)) ?? 4,
            mapNormalization: try object["map_normalization"].map {
                MapNormalization(rawValue: try $0.choice(MapNormalization.allCases.map(\.rawValue)))!
            } ?? .none,
            mapMaxFilter: try object["map_max_filter"].map { item -> Int in
                let side = try item.int(in: 1...255)
                guard side % 2 == 1 else { throw item.error("\(side) is even; allowed: an odd integer in [1, 255]") }
                return side
            } ?? 1,
            coresetShards: try object["coreset_shards"]?.int(in: 1...4096) ?? 1,
            index: try index()))
    case "knn":
        return .knn(KNNSpec(
            k: try k(default: 5), metric: try metric(),
            aggregate: try object["aggregate"]?.sweep {
                KNNSpec.Aggregate(rawValue: try $0.choice(KNNSpec.Aggregate.allCases.map(\.rawValue)))!
            } ?? Sweep(.mean),
            scale: try object["scale"]?.bool() ?? false,
            index: try index()))
    case "mahalanobis":
        let estimatorReader = object["estimator"]
        let estimator = try estimatorReader?.sweep {
            MahalanobisSpec.Estimator(rawValue: try $0.choice(MahalanobisSpec.Estimator.allCases.map(\.rawValue)))!
        } ?? Sweep(.ledoitWolf)
        let ridgeReader = object["ridge"]
        let ridge = try ridgeReader?.sweep { try $0.double(in: .closed(0, 100)) } ?? Sweep(0.01)
        if let ridgeReader, !estimator.values.contains(.sample) {
            throw ridgeReader.error("\"ridge\" applies to the \"sample\" estimator only; set \"estimator\": \"sample\"")
        }
        return .mahalanobis(MahalanobisSpec(estimator: estimator, ridge: ridge))
    case "ocsvm":
        return .ocsvm(OneClassSVMSpec(
            nu: try object["nu"]?.sweep { try $0.double(in: .openClosed(0, 1)) } ?? Sweep(0.5),
            gamma: try object["gamma"]?.sweep { item -> OneClassSVMSpec.Gamma in
                if case .string = item.value { _ = try item.choice(["scale"]); return .scale }
                guard case .number = item.value else {
                    throw item.error("expected \"scale\" or a number in (0, 1000], got \(item.value.typeDescription) \(item.value.excerpt)")
                }
                return .value(try item.double(in: .openClosed(0, 1000)))
            } ?? Sweep(.scale)))
    default:
        return .gmm(GMMSpec(
            components: try object["components"]?.sweep { try $0.int(in: 1...256) } ?? Sweep(4),
            covariance: try object["covariance"]?.sweep {
                GMMSpec.Covariance(rawValue: try $0.choice(GMMSpec.Covariance.allCases.map(\.rawValue)))!
            } ?? Sweep(.diagonal),
            iterations: try object["iterations"]?.int(in: 1...10000) ?? 100,
            regularization: try object["regularization"]?.double(in: .openClosed(0, 1)) ?? 1e-6))
    }
}

/// `scorer.index`: `{"kind": "exact"}` (nil) or a faiss index with its parameters (the
/// defaults suit banks of millions of rows). A faiss kind in a build without faiss is an
/// error saying how to install it. Whether `lists` suits the bank is checked when it is
/// built (39 rows per list), when the bank size is known.
private func decodeIndex(_ reader: ValueReader) throws -> ApproximateSearch.Kind? {
    let (kind, object) = try taggedObject(reader, tag: "kind", shapes: Shapes.indexes,
                                          order: ["exact", "ivf_flat", "hnsw", "ivf_pq"])
    if kind == "exact" { return nil }
    guard ApproximateSearch.isAvailable else {
        throw reader.error(ApproximateSearch.notInstalledMessage(kind: kind))
    }
    func int(_ key: String, _ range: ClosedRange<Int>, _ value: Int) throws -> Int {
        try object[key]?.int(in: range) ?? value
    }
    func lists(default value: Int) throws -> (lists: Int, probe: Int) {
        let lists = try int("lists", 1...1 << 20, value)
        let probeDefault = min(lists, kind == "ivf_pq" ? 16 : 8)
        let probe = try int("probe", 1...1 << 20, probeDefault)
        guard probe <= lists else { throw object["probe"]!.error("probe \(probe) exceeds lists \(lists); allowed: 1...\(lists)") }
        return (lists, probe)
    }
    switch kind {
    case "ivf_flat":
        let (lists, probe) = try lists(default: 1024)
        return .ivfFlat(lists: lists, probe: probe)
    case "hnsw":
        return .hnsw(m: try int("m", 2...256, 32), efSearch: try int("ef_search", 1...1 << 16, 64))
    default:
        let (lists, probe) = try lists(default: 4096)
        return .ivfPQ(lists: lists, codeBytes: try int("code_bytes", 1...256, 32), probe: probe,
                      rerank: try int("rerank", 1...1 << 16, 100))
    }
}

private func decodeClassifier(_ reader: ValueReader?) throws -> ClassifierSpec? {
    guard let object = try reader?.object(Shapes.classifier) else { return nil }
    return ClassifierSpec(
        labelsColumn: try object.required("labels_column").nonEmptyString(),
        separator: try object["separator"]?.nonEmptyString(),
        regularization: try object["regularization"]?.double(in: .openClosed(0, 100)) ?? 1e-3,
        topK: try object["top_k"]?.int(in: 1...20) ?? 20)
}

private func decodeThreshold(_ reader: ValueReader?) throws -> ThresholdRule {
    guard let reader else { return .f1Max }
    let (rule, object) = try taggedObject(reader, tag: "rule", shapes: Shapes.thresholdRules, order: ThresholdRule.rules)
    switch rule {
    case "train_percentile": return .trainPercentile(try object.required("percentile").double(in: .closed(0, 100)))
    case "fixed": return .fixed(try object.required("value").double(in: NumberRange()))
    default: return .f1Max
    }
}

private func decodeOutputs(_ reader: ValueReader?, scorer: ScorerSpec) throws -> OutputSpec {
    let object = try reader?.object(Shapes.outputs)
    let heatmapsReader = object?["heatmaps"]
    let heatmaps = try heatmapsReader?.int(in: 0...10000) ?? (scorer.kind == "patchcore" ? 10 : 0)
    if let heatmapsReader, heatmaps > 0, scorer.kind != "patchcore" {
        throw heatmapsReader.error("heatmaps need a patch-level scorer; \"\(scorer.kind)\" scores whole images (use 0)")
    }
    return OutputSpec(heatmaps: heatmaps, overlays: try object?["overlays"]?.bool() ?? true,
                      model: try object?["model"].map {
                          OutputSpec.ModelOutput(rawValue: try $0.choice(OutputSpec.ModelOutput.allCases.map(\.rawValue)))!
                      } ?? .best)
}

/// `dataset.quality`: `{"column": "sharpness", "op": ">", "value": 50}` over the image-quality
/// columns (`in` takes a list of numbers), or `{"all": […]}` / `{"any": […]}` of such.
private func decodeQualityPredicate(_ reader: ValueReader) throws -> Datasets.Predicate {
    let fields = try reader.objectFields()
    for combinator in ["all", "any"] where fields[combinator] != nil {
        guard fields.count == 1 else {
            throw reader.error("a quality predicate is {\"\(combinator)\": […]} alone or {\"column\", \"op\", \"value\"}")
        }
        let items = try ValueReader(value: fields[combinator]!, path: reader.path.appending(combinator), file: reader.file)
            .array(nonEmpty: true).map { try decodeQualityPredicate($0) }
        return combinator == "all" ? .all(items) : .any(items)
    }
    let object = try reader.object(Shapes.qualityComparison)
    let column = try object.required("column").choice(ImageQuality.columns)
    let comparisons = Datasets.Predicate.Comparison.allCases.map(\.rawValue)
    let op = Datasets.Predicate.Comparison(rawValue: try object.required("op").choice(comparisons))!
    let value = try object.required("value")
    let operands = op == .isIn ? try value.array(nonEmpty: true).map { try $0.double(in: NumberRange()) }
        : [try value.double(in: NumberRange())]
    return .compare(column: column, op: op, operands: operands.map { .number($0) })
}

extension BackboneSpec {
    /// The spec's `backbone` object as JSON (snake_case keys, paths resolved): what a saved
    /// model stores, read back by ``init(specJSON:file:)``. With tiling, `resize` and
    /// `input_size` are left out, as a spec leaves them out.
    public var specJSON: String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var copy = self
        if tiling != nil { (copy.resize, copy.inputSize) = (0, 0) }
        var text = String(decoding: try! encoder.encode(copy), as: UTF8.self)
        if tiling != nil {
            for key in ["\"input_size\":0,", "\"resize\":0,"] { text = text.replacingOccurrences(of: key, with: "") }
        }
        return text
    }

    /// Reads a backbone object with the checks a spec's `backbone` gets; `file` names the
    /// model file in errors.
    public init(specJSON: String, file: String) throws {
        let value: JSONValue
        do { value = try JSONValue(parsing: Data(specJSON.utf8)) } catch {
            throw SpecError(file: file, path: JSONPath.root.appending("backbone"), reason: "not valid JSON (\(error))")
        }
        self = try decodeBackbone(ValueReader(value: value, path: JSONPath.root.appending("backbone"), file: file),
                                  context: DecodingContext(directory: URL(fileURLWithPath: "/"), environment: [:]))
    }
}

/// A JSONValue as the Foundation objects JSONSerialization writes.
private func foundationObject(_ value: JSONValue) -> Any {
    switch value {
    case .null: return NSNull()
    case .bool(let flag): return flag
    case .number(let number): return number == number.rounded() && abs(number) < 9e15 ? Int(number) as Any : number
    case .string(let text): return text
    case .array(let items): return items.map(foundationObject)
    case .object(let fields): return fields.mapValues(foundationObject)
    }
}

