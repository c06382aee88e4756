//! The Prometheus text exposition format (version 0.0.4) of per-loop
//! snapshots: one `# HELP` and `# TYPE` per metric, one sample per loop
//! labelled `loop="<index>"`, times in seconds, and the blocking pool (which
//! the loops share) unlabelled.

use std::fmt::Write;

use super::MetricsSnapshot;

/// Appends the exposition of `loops` (loop `i` at index `i`, as
/// [`Runtime::handles`](crate::Runtime::handles) orders them) to `out`,
/// every name prefixed with `ringloop_`. Serve it as
/// `text/plain; version=0.0.4`.
///
/// ```
/// let rt = ringloop::Builder::new().build().unwrap();
/// let mut text = String::new();
/// ringloop::metrics::prometheus_text(&[rt.metrics()], &mut text);
/// assert!(text.contains("ringloop_loop_iterations_total{loop=\"0\"}"));
/// ```
pub fn prometheus_text(loops: &[MetricsSnapshot], out: &mut String) {
    type Get = fn(&MetricsSnapshot) -> f64;
    let per_loop: &[(&str, &str, &str, Get)] = &[
        (
            "loop_iterations_total",
            "counter",
            "Turns of the event loop.",
            |m| m.loop_iterations as f64,
        ),
        (
            "busy_seconds_total",
            "counter",
            "Time the loop ran tasks, timers and completions (not parked).",
            |m| m.busy.as_secs_f64(),
        ),
        (
            "parked_seconds_total",
            "counter",
            "Time the loop was parked in the kernel.",
            |m| m.parked.as_secs_f64(),
        ),
        (
            "utilization_ratio",
            "gauge",
            "Event-loop utilization since start: busy / (busy + parked).",
            |m| m.elu(),
        ),
        (
            "empty_wakes_total",
            "counter",
            "Parks that returned and woke no task and fired no timer.",
            |m| m.empty_wakes as f64,
        ),
        (
            "spins_total",
            "counter",
            "Busy-spin reports (empty wakes in a row over the threshold).",
            |m| m.spins as f64,
        ),
        (
            "events_total",
            "counter",
            "CQEs (io_uring) or readiness events (epoll) harvested.",
            |m| m.events as f64,
        ),
        ("tasks_spawned_total", "counter", "Tasks spawned.", |m| {
            m.tasks_spawned as f64
        }),
        ("tasks_polled_total", "counter", "Task polls.", |m| {
            m.tasks_polled as f64
        }),
        (
            "tasks_alive",
            "gauge",
            "Tasks spawned and not finished.",
            |m| m.tasks_alive as f64,
        ),
        (
            "ops_completed_total",
            "counter",
            "Operations completed.",
            |m| m.ops_completed as f64,
        ),
        (
            "ops_fallback_total",
            "counter",
            "Operations that took a readiness or pool fallback.",
            |m| m.ops_fallback as f64,
        ),
        (
            "ops_cached_inline_total",
            "counter",
            "Pool-path operations the kernel finished at once from its caches.",
            |m| m.ops_cached_inline as f64,
        ),
        (
            "ops_in_flight",
            "gauge",
            "Operations the kernel or a pool thread may still touch.",
            |m| m.ops_in_flight as f64,
        ),
        (
            "wait_syscalls_total",
            "counter",
            "io_uring_enter or epoll_wait calls.",
            |m| m.wait_syscalls as f64,
        ),
        (
            "io_syscalls_total",
            "counter",
            "Syscalls operations made on the fallback paths.",
            |m| m.io_syscalls as f64,
        ),
        (
            "timers_fired_total",
            "counter",
            "Timers that expired.",
            |m| m.timers_fired as f64,
        ),
        (
            "remote_wakes_total",
            "counter",
            "Wake-ups from other threads.",
            |m| m.remote_wakes as f64,
        ),
        (
            "stalls_total",
            "counter",
            "Task polls longer than the stall threshold.",
            |m| m.stalls as f64,
        ),
    ];
    for (name, kind, help, get) in per_loop {
        let _ = writeln!(out, "# HELP ringloop_{name} {help}");
        let _ = writeln!(out, "# TYPE ringloop_{name} {kind}");
        for (i, m) in loops.iter().enumerate() {
            let _ = writeln!(out, "ringloop_{name}{{loop=\"{i}\"}} {}", get(m));
        }
    }
    type Hist = fn(&MetricsSnapshot) -> &super::Latency;
    let summaries: &[(&str, &str, Hist)] = &[
        (
            "loop_lag_seconds",
            "How late the loop got to due timers and woken tasks.",
            |m| &m.loop_lag,
        ),
        (
            "completion_to_poll_seconds",
            "From a park's wake-up to the poll of a task it woke.",
            |m| &m.completion_to_poll,
        ),
    ];
    for (name, help, get) in summaries {
        let _ = writeln!(out, "# HELP ringloop_{name} {help}");
        let _ = writeln!(out, "# TYPE ringloop_{name} summary");
        for (i, m) in loops.iter().enumerate() {
            let l = get(m);
            for q in [0.5, 0.99, 0.999] {
                let _ = writeln!(
                    out,
                    "ringloop_{name}{{loop=\"{i}\",quantile=\"{q}\"}} {}",
                    l.quantile(q).as_secs_f64()
                );
            }
            let _ = writeln!(out, "ringloop_{name}_count{{loop=\"{i}\"}} {}", l.count());
        }
    }
    let pool = loops
        .iter()
        .map(|m| m.blocking)
        .find(|b| *b != Default::default())
        .unwrap_or_default();
    let shared: &[(&str, &str, &str, u64)] = &[
        (
            "blocking_threads_alive",
            "gauge",
            "Blocking-pool threads alive.",
            pool.threads_alive,
        ),
        (
            "blocking_threads_busy",
            "gauge",
            "Blocking-pool threads running a job.",
            pool.threads_busy,
        ),
        (
            "blocking_queue_depth",
            "gauge",
            "Jobs waiting for a blocking-pool thread.",
            pool.queue_depth,
        ),
        (
            "blocking_jobs_completed_total",
            "counter",
            "Blocking-pool jobs run.",
            pool.jobs_completed,
        ),
        (
            "blocking_jobs_rejected_total",
            "counter",
            "Blocking-pool jobs refused.",
            pool.jobs_rejected,
        ),
    ];
    for (name, kind, help, v) in shared {
        let _ = writeln!(out, "# HELP ringloop_{name} {help}");
        let _ = writeln!(out, "# TYPE ringloop_{name} {kind}");
        let _ = writeln!(out, "ringloop_{name} {v}");
    }
}
