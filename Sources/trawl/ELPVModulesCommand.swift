import ArgumentParser
import Datasets
import Foundation

/// `trawl elpv-modules`: writes the whole-module ELPV set (`make setup` runs it).
struct ELPVModulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elpv-modules",
        abstract: "Write whole-module electroluminescence images stitched from ELPV cells, in MVTec layout.")

    @Option(help: "The ELPV folder holding labels.csv.")
    var source: String = ".assets/elpv/elpv_dataset/data"

    @Option(help: "Where the MVTec-layout set goes (replaced; written as DESTINATION.partial, then renamed).")
    var destination: String = ".assets/elpv-modules"

    @Option(help: "Seed of the cell choice.")
    var seed: UInt64 = 0

    func run() throws {
        let generator = ELPVModuleGenerator(source: URL(fileURLWithPath: source), seed: seed)
        try generator.write(to: URL(fileURLWithPath: destination))
        let total = generator.trainModules + generator.testGoodModules + generator.testDefectModules
        print("elpv-modules: \(total) modules of \(generator.rows)×\(generator.columns) cells "
              + "(\(generator.columns * ELPVModuleGenerator.cellSide)×\(generator.rows * ELPVModuleGenerator.cellSide) px) "
              + "in \(destination): train/good \(generator.trainModules), test/good \(generator.testGoodModules), "
              + "test/defect \(generator.testDefectModules)")
    }
}
