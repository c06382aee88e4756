//! [`JoinError`]: why a task or blocking job produced no output.

use std::any::Any;
use std::fmt;
use std::io;

/// Why a task produced no output.
pub struct JoinError {
    kind: Kind,
}

enum Kind {
    Cancelled,
    Panicked {
        /// The payload's message, when it is a string (for `Display`).
        msg: Option<String>,
        payload: Payload,
    },
    Rejected(String),
}

/// A panic payload that is never shared: it is only moved out by value
/// ([`JoinError::try_into_panic`]), so `JoinError` can be `Sync` although
/// `dyn Any + Send` is not.
struct Payload(Box<dyn Any + Send>);

// SAFETY: no `&Payload` ever reaches the payload: it is only moved (by
// value) out of an owned `JoinError`, so shared references across threads
// cannot touch the `!Sync` box.
unsafe impl Sync for Payload {}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            kind: Kind::Cancelled,
        }
    }
    pub(crate) fn panicked(p: Box<dyn Any + Send>) -> Self {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned());
        JoinError {
            kind: Kind::Panicked {
                msg,
                payload: Payload(p),
            },
        }
    }
    pub(crate) fn rejected(why: String) -> Self {
        JoinError {
            kind: Kind::Rejected(why),
        }
    }

    /// The task was aborted, or its runtime shut down before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, Kind::Panicked { .. })
    }

    /// The blocking pool refused the job (queue full or shut down).
    pub fn is_rejected(&self) -> bool {
        matches!(self.kind, Kind::Rejected(_))
    }

    /// The panic payload, to resume it with `std::panic::resume_unwind`.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.kind {
            Kind::Panicked { payload, .. } => Ok(payload.0),
            kind => Err(JoinError { kind }),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cancelled => f.write_str("task was cancelled"),
            Kind::Panicked { msg, .. } => write!(
                f,
                "task panicked: {}",
                msg.as_deref().unwrap_or("non-string payload")
            ),
            Kind::Rejected(why) => write!(f, "blocking job rejected: {why}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        let kind = if e.is_rejected() {
            io::ErrorKind::WouldBlock
        } else {
            io::ErrorKind::Other
        };
        io::Error::new(kind, e)
    }
}
