//! The future a graceful shutdown runs: until the loop has no task left, or
//! the grace period ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::time::{sleep_until, Sleep};

pub(crate) struct Drained {
    sleep: Sleep,
}

impl Drained {
    pub(crate) fn new(deadline: Instant) -> Self {
        Drained {
            sleep: sleep_until(deadline),
        }
    }
}

impl Future for Drained {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let idle = super::with(|lc| {
            let idle = lc.exec.alive() == 0;
            if !idle {
                lc.exec.set_idle_waker(cx.waker());
            }
            idle
        })
        .unwrap_or(true);
        if idle {
            return Poll::Ready(());
        }
        Pin::new(&mut self.sleep).poll(cx)
    }
}
