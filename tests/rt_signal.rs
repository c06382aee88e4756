//! `ringloop::signal`: deliveries reach listeners on every loop whatever
//! thread the kernel picks, nothing is lost between `signal()` and the first
//! `recv`, deliveries coalesce, and bad signals are errors. Both backends.
//!
//! Signals are process-wide, so the tests of this file take one lock.
mod util;

use std::sync::Mutex;
use std::time::Duration;

use ringloop::signal::{signal, SignalKind};
use ringloop::{Backend, Builder};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `sig` to the whole process (the kernel picks the thread).
fn kill_self(sig: i32) {
    // SAFETY: plain syscalls.
    assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
}

/// Raises `sig` on this thread: the handler has run when this returns.
fn raise_here(sig: i32) {
    // SAFETY: plain libc call.
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

/// Raises `sig` on a new plain thread, so the handler runs there.
fn raise_on_other_thread(sig: i32) {
    std::thread::spawn(move || {
        // SAFETY: raise() directs the signal to the calling thread.
        assert_eq!(unsafe { libc::raise(sig) }, 0);
    })
    .join()
    .unwrap();
}

each_backend!(delivery_before_first_poll_is_kept, |b: Backend| {
    let _g = lock();
    let rt = util::rt(b);
    rt.block_on(async {
        let mut s = signal(SignalKind::user_defined1()).unwrap();
        kill_self(libc::SIGUSR1);
        let got = ringloop::time::timeout(util::LIMIT, s.recv()).await;
        assert_eq!(got, Ok(Some(())));
    });
});

each_backend!(
    handler_on_a_foreign_thread_wakes_the_parked_loop,
    |b: Backend| {
        let _g = lock();
        let rt = util::rt(b);
        rt.block_on(async {
            let mut s = signal(SignalKind::user_defined2()).unwrap();
            // The loop parks in recv; the signal is taken by a thread the
            // runtime never saw, which only writes the listener's eventfd.
            let sender = ringloop::spawn_blocking(|| raise_on_other_thread(libc::SIGUSR2));
            let got = ringloop::time::timeout(util::LIMIT, s.recv()).await;
            assert_eq!(got, Ok(Some(())));
            sender.await.unwrap();
        });
    }
);

each_backend!(every_loop_sees_every_delivery, |b: Backend| {
    let _g = lock();
    let rt = Builder::new().backend(b).threads(3).build().unwrap();
    // Each loop registers, then reports; the signal goes out once all have.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    let sender = std::thread::spawn(move || {
        for _ in 0..3 {
            rx.recv_timeout(util::LIMIT).expect("every loop registers");
        }
        kill_self(libc::SIGHUP);
    });
    let got = rt.run_on_each_thread(move |_| {
        let mut s = signal(SignalKind::hangup()).unwrap();
        tx.lock().unwrap().send(()).unwrap();
        async move { ringloop::time::timeout(util::LIMIT, s.recv()).await }
    });
    sender.join().unwrap();
    assert_eq!(got, vec![Ok(Some(())); 3]);
});

each_backend!(deliveries_coalesce_and_listeners_rearm, |b: Backend| {
    let _g = lock();
    let rt = util::rt(b);
    rt.block_on(async {
        let mut s = signal(SignalKind::window_change()).unwrap();
        for _ in 0..5 {
            raise_here(libc::SIGWINCH);
        }
        let got = ringloop::time::timeout(util::LIMIT, s.recv()).await;
        assert_eq!(got, Ok(Some(())), "five deliveries make one recv return");
        let again = ringloop::time::timeout(Duration::from_millis(50), s.recv()).await;
        assert!(again.is_err(), "nothing left after the coalesced recv");
        // A dropped recv loses nothing: the next one sees the delivery.
        raise_here(libc::SIGWINCH);
        let got = ringloop::time::timeout(util::LIMIT, s.recv()).await;
        assert_eq!(got, Ok(Some(())));
    });
});

each_backend!(a_dropped_listener_leaves_the_signal_caught, |b: Backend| {
    let _g = lock();
    let fds = util::open_fds();
    let rt = util::rt(b);
    rt.block_on(async {
        let mut s = signal(SignalKind::alarm()).unwrap();
        // Start a wait, then drop the listener with it pending.
        let pending = ringloop::time::timeout(Duration::from_millis(1), s.recv()).await;
        assert!(pending.is_err());
        drop(s);
        // SIGALRM's default action would end the process; now it is caught.
        raise_here(libc::SIGALRM);
        ringloop::time::sleep(Duration::from_millis(1)).await;
    });
    drop(rt);
    util::assert_no_fd_leak(fds, "the listener's eventfd is closed");
});

#[test]
fn bad_signals_are_errors() {
    for n in [0, 65, -1, libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
        let e = signal(SignalKind::from_raw(n)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "signal {n}");
    }
}

#[test]
fn polled_outside_a_runtime_is_none_not_a_hang() {
    let _g = lock();
    let mut s = signal(SignalKind::user_defined1()).unwrap();
    // Polled by hand, outside any loop: the wait cannot be armed.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert_eq!(s.poll_recv(&mut cx), std::task::Poll::Ready(None));
}

each_backend!(
    a_listener_made_and_dropped_outside_leaves_no_readiness_state,
    |b: Backend| {
        let _g = lock();
        let rt = util::rt(b);
        // Made before the loop runs, polled on it, dropped after it ran.
        let mut s = signal(SignalKind::user_defined1()).unwrap();
        rt.block_on(async {
            let r = ringloop::time::timeout(Duration::from_millis(1), s.recv()).await;
            assert!(r.is_err(), "no signal sent");
        });
        drop(s);
        rt.block_on(async {});
        assert_eq!(
            rt.debug_resources(),
            [0, 0, 0, 0],
            "the eventfd's readiness state went with it"
        );
    }
);
