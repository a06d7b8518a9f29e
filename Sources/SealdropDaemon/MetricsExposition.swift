import ArgumentParser
import Foundation
import SealdropMetrics
import SealdropServer

/// What `serve` exposes of its metrics, as configured: the textfile
/// (`metrics-file`), the loopback listener (`metrics-listen`), both or neither.
struct MetricsExposition {
    let publisher: MetricsPublisher?
    let listener: MetricsListener?
    let refresh: @Sendable () -> Void

    /// `listener` is bound already (its address was checked before anything was created).
    init(settings: ServerSettings, dropBox: DropBox, listener: MetricsListener?) {
        publisher = settings.metricsFile.map {
            MetricsPublisher(
                metrics: dropBox.metrics, file: MetricsTextfile(path: $0), interval: settings.metricsInterval, refresh: dropBox.refreshMetrics,
                log: DaemonLog.line)
        }
        self.listener = listener
        refresh = dropBox.refreshMetrics
    }

    func start() throws {
        if let publisher {
            do {
                try publisher.start()
            } catch {
                throw ValidationError("metrics-file: \(error.message)")
            }
            DaemonLog.line("writing metrics to \(publisher.file.path) every \(Int(publisher.interval)) s")
        }
        if let listener {
            print("metrics on http://\(listener.host.contains(":") ? "[\(listener.host)]" : listener.host):\(listener.port)/metrics")
            fflush(nil)
            listener.start(refresh: refresh)
        }
    }

    /// At a graceful stop: the last figures written, the listener closed.
    func stop() {
        publisher?.stop()
        listener?.stop()
    }
}
