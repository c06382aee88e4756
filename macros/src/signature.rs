//! What both attributes require of the function they are put on: `async`,
//! no arguments, no generics, no `const`/`unsafe`/`extern` qualifier.

use syn::{Error, Safety, Signature};

use crate::options::Kind;

/// Every way `sig` does not fit `kind`, combined into one error (each part
/// points at the offending tokens), or `None`.
pub(crate) fn check(kind: Kind, sig: &Signature) -> Option<Error> {
    let name = kind.name();
    let mut errors = Errors(None);
    if sig.asyncness.is_none() {
        errors.push(Error::new(
            sig.fn_token.span,
            format!("{name} goes on an `async fn`: add `async` before `fn`"),
        ));
    }
    if let Some(c) = &sig.constness {
        errors.push(Error::new_spanned(
            c,
            format!("{name} functions cannot be `const`"),
        ));
    }
    if let Safety::Unsafe(u) = &sig.safety {
        errors.push(Error::new_spanned(
            u,
            format!("{name} functions cannot be `unsafe`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(Error::new_spanned(
            abi,
            format!("{name} functions cannot be `extern`"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(Error::new_spanned(
            &sig.generics,
            format!("{name} functions cannot be generic"),
        ));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let why = match kind {
            Kind::Main => "the program's arguments are in `std::env::args()`",
            Kind::Test => {
                "the test harness calls it with none; \
                 `ringloop::current_backend()` tells the body its backend"
            }
        };
        let msg = format!("{name} functions take no arguments: {why}");
        errors.push(match &sig.variadic {
            Some(v) if sig.inputs.is_empty() => Error::new_spanned(v, msg),
            _ => Error::new_spanned(&sig.inputs, msg),
        });
    }
    errors.0
}

/// Errors combined in the order found (rustc reports each at its span).
pub(crate) struct Errors(pub(crate) Option<Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}
