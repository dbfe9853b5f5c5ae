// swift-tools-version:6.0
// Trawl: visual anomaly and out-of-distribution detection in Swift.
//
// Layers, one direction only:
//   C system modules (CBLAS, CHDF5, CPNG, CJPEG, CImageCodecs, CDistanceKernels, CConvolutionKernels, CChecksums; CFaiss when faiss is installed)
//   → core (Tensors, Images, Checksums, FileErrors, FileLocks)
//   → backbones and feature extraction (Weights, Backbones)
//   → scorers, projections and metrics (Scorers, Projections, Metrics)
//   → datasets, tables, reports, saved models, cluster scripts, specs and runner (Datasets, HDF5,
//     EmbeddingCache, Tables, Reports, SavedModels, ClusterScripts, Experiments)
//   → the `trawl` CLI.
import Foundation
import PackageDescription

/// faiss (Debian: libfaiss-dev, installed by `make setup`) is optional: without its headers the
/// CFaiss shim is left out, and specs that ask for a faiss index fail validation with a message
/// saying how to install it. (SwiftPM caches this manifest: `touch Package.swift` after installing.)
let faissInstalled = FileManager.default.fileExists(atPath: "/usr/include/faiss/IndexIVFPQ.h")
/// faiss's headers include <omp.h>, which Debian keeps in GCC's own include folder.
let gccOpenMPIncludes = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/gcc/x86_64-linux-gnu")) ?? [])
    .map { "/usr/lib/gcc/x86_64-linux-gnu/\($0)/include" }
    .filter { FileManager.default.fileExists(atPath: "\($0)/omp.h") }

let package = Package(
    name: "Trawl",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "trawl", targets: ["trawl"]),
        .library(name: "Experiments", targets: ["Experiments"]),
        .library(name: "Reports", targets: ["Reports"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C system modules (Debian: libopenblas-dev libhdf5-dev libpng-dev libjpeg62-turbo-dev).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        // libpng and libjpeg report errors by longjmp, which Swift cannot catch:
        // this small C layer turns them into return codes and messages.
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"]),
        // Exact squared-distance minimum kernels (AVX2 with a portable fallback, the same bits)
        // for the greedy coreset: C, because Swift cannot ask for fused multiply-adds per function.
        .target(name: "CDistanceKernels"),
        // The convolution kernels that Tensors runs instead of OpenBLAS, each AVX2 with a portable
        // fallback of the same bits: Trawl's own GEMM (every entry one multiply-add chain, so its
        // bits do not depend on the product's shape), Winograd F(4×4, 3×3)'s data transforms and
        // the depthwise convolution.
        .target(name: "CConvolutionKernels"),
        // SHA-256 blocks through the x86 SHA extensions, for the Checksums module's hashing of
        // weights, images and memory banks (where the processor has them).
        .target(name: "CChecksums"),

        // Core.
        .target(name: "Tensors", dependencies: ["CBLAS", "CConvolutionKernels"]),
        .target(name: "Checksums", dependencies: ["CChecksums"]),
        .target(name: "FileErrors"),
        .target(name: "FileLocks"),
        .target(name: "Images", dependencies: ["CImageCodecs", "Tensors", "FileErrors"]),

        // Backbones and feature extraction.
        .target(name: "Weights", dependencies: ["Tensors", "FileErrors"]),
        .target(name: "Backbones", dependencies: ["Tensors", "Images", "Weights", "Checksums"]),

        // Scorers, projections (PCA, UMAP) and metrics.
        .target(name: "Scorers", dependencies: ["Tensors", "CDistanceKernels"]),  // + CFaiss when faiss is installed (below)
        .target(name: "Projections", dependencies: ["CBLAS", "Tensors", "Scorers"]),
        .target(name: "Metrics"),

        // Datasets, specs, runner and reports.
        .target(name: "Datasets", dependencies: ["Images", "Tensors", "FileErrors"]),
        // The thin HDF5 layer the embedding cache and saved models share.
        .target(name: "HDF5", dependencies: ["CHDF5"]),
        .target(name: "EmbeddingCache", dependencies: ["CHDF5", "HDF5", "Tensors", "Checksums", "FileLocks"]),
        // Fitted scorers with their backbone, threshold and training scores: model.h5.
        .target(name: "SavedModels", dependencies: ["CHDF5", "HDF5", "Tensors", "Scorers"]),
        // Tidy tables: CSV and Markdown writing, CSV reading.
        .target(name: "Tables"),
        // report.html, SVG figures and HTML image galleries, from a results folder's files.
        .target(name: "Reports", dependencies: ["Tables", "Images"]),
        // Cluster batch scripts (Slurm) that run an experiment as sharded jobs, and their submission.
        .target(name: "ClusterScripts"),
        .target(name: "Experiments", dependencies: [
            "Tensors", "Images", "Checksums", "Backbones", "Scorers", "Projections", "Metrics",
            "Datasets", "EmbeddingCache", "SavedModels", "FileErrors", "FileLocks", "Tables", "Reports",
            "CBLAS", "CHDF5", "CPNG", "CJPEG",  // library versions for run provenance
        ]),

        // Command line.
        .executableTarget(name: "trawl", dependencies: [
            "Experiments", "Backbones", "Datasets", "Images", "FileErrors", "Reports", "EmbeddingCache", "ClusterScripts",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "TrawlBench", dependencies: [
            "Tensors", "Images", "Checksums", "Backbones", "Scorers", "Projections", "Metrics", "Experiments",
            "Datasets", "EmbeddingCache", "HDF5", "CConvolutionKernels",
        ], exclude: ["Peers"]),  // the peers' Python scripts (torch, anomalib), run by the bench

        // Tests. Run in release with testing enabled: `make test`.
        .target(name: "TestSupport", dependencies: ["Tensors"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "CConvolutionKernels", "Checksums", "TestSupport"]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "Checksums", "TestSupport"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "TestSupport"]),
        .testTarget(name: "BackbonesTests", dependencies: ["Backbones", "Images", "TestSupport"]),
        .testTarget(name: "ScorersTests", dependencies: ["Scorers", "Tensors", "CDistanceKernels", "TestSupport"]),
        .testTarget(name: "ProjectionsTests", dependencies: ["Projections", "Datasets", "Tensors", "TestSupport"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TestSupport"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Tables", "Images", "Tensors"]),
        .testTarget(name: "ClusterScriptsTests", dependencies: ["ClusterScripts"]),
        .testTarget(name: "ExperimentsTests", dependencies: [
            "Experiments", "Backbones", "Datasets", "EmbeddingCache", "FileLocks", "HDF5", "SavedModels", "Images", "Metrics",
            "Reports", "Tables", "TestSupport",
        ]),
    ],
    swiftLanguageModes: [.v5]
)

if faissInstalled {
    // faiss's C++ indexes behind an extern "C" surface (Swift cannot call the abstract
    // faiss::Index); the static libfaiss.a needs OpenMP and BLAS/LAPACK (OpenBLAS has both).
    package.targets.append(.target(
        name: "CFaiss",
        cxxSettings: [.unsafeFlags(gccOpenMPIncludes.prefix(1).flatMap { ["-isystem", $0] })],
        linkerSettings: [.linkedLibrary("faiss"), .linkedLibrary("openblas"), .linkedLibrary("gomp")]))
    package.targets.first { $0.name == "Scorers" }!.dependencies.append("CFaiss")
}
