import CDistanceKernels
@testable import Scorers
import XCTest

/// The coreset's two workers: every piece of every job runs exactly once, whichever thread
/// takes it, and a helper that is held up leaves its pieces to the caller.
final class WorkerPairTests: XCTestCase {
    /// Runs `jobs` jobs of 0 … 4 pieces (as a coreset round has): how many pieces ran off the calling thread.
    private func piecesOffTheCaller(_ workers: WorkerPair, jobs: Int) -> Int {
        let caller = pthread_self()
        var offCaller = 0
        for job in 0..<jobs {
            let count = job % 5
            var runs = [Int](repeating: 0, count: count)
            var elsewhere = [Bool](repeating: false, count: count)
            runs.withUnsafeMutableBufferPointer { runs in
                elsewhere.withUnsafeMutableBufferPointer { elsewhere in
                    let (runs, elsewhere) = (runs, elsewhere)
                    workers.run(pieces: count) { i in
                        runs[i] += 1
                        elsewhere[i] = pthread_equal(pthread_self(), caller) == 0
                        usleep(20)   // long enough for the helper to take some
                    }
                }
            }
            XCTAssertEqual(runs, [Int](repeating: 1, count: count), "job \(job)")
            offCaller += elsewhere.filter { $0 }.count
        }
        return offCaller
    }

    func testEveryPieceRunsOnceOnEitherThread() {
        let offCaller = piecesOffTheCaller(WorkerPair(), jobs: 2000)
        if trawl_available_cpus() > 1 {
            XCTAssertGreaterThan(offCaller, 0, "the helper takes pieces")
        } else {
            XCTAssertEqual(offCaller, 0, "one CPU: no helper thread")
        }
        XCTAssertEqual(piecesOffTheCaller(WorkerPair(startsHelper: false), jobs: 100), 0)
    }

    func testCallerTakesTheHelpersPiecesWhenItIsHeldUp() throws {
        guard trawl_available_cpus() > 1 else {
            print("skipped: this process may use one CPU, so there is no helper thread")
            throw XCTSkip("one CPU")
        }
        let workers = WorkerPair()
        let caller = pthread_self()
        var onCaller = [Bool](repeating: false, count: 8)
        var helperStarted = false
        withUnsafeMutablePointer(to: &helperStarted) { helperStarted in
            onCaller.withUnsafeMutableBufferPointer { onCaller in
                let onCaller = onCaller
                workers.run(pieces: 8) { i in
                    onCaller[i] = pthread_equal(pthread_self(), caller) != 0
                    if !onCaller[i] {
                        helperStarted.pointee = true
                        usleep(50_000)   // the helper is held up in its first piece
                    } else if i == 0 {
                        for _ in 0..<50_000 where !helperStarted.pointee { usleep(100) }
                    }
                }
            }
        }
        // The helper took the last piece and held it; the caller did not wait for the rest.
        XCTAssertEqual(onCaller, [true, true, true, true, true, true, true, false])
    }
}
