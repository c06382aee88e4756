//! The options both attributes take: `threads = N`, `backend = "..."`,
//! `crate = "path"`.
//!
//! A backend name is parsed by the runtime's own parser (`backend_name.rs`,
//! a byte-identical copy of `runtime/src/backend_name.rs`, checked by
//! `tests/backend_names.rs`), so every spelling `Backend::from_str` and
//! `RINGLOOP_BACKEND` accept is accepted here, and nothing else.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Error, LitInt, LitStr, Path, Result};

use crate::backend_name;

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    /// The attribute as a user writes it, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Main => "#[ringloop::main]",
            Kind::Test => "#[ringloop::test]",
        }
    }
}

/// A backend named by `backend = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Auto,
    IoUring,
    Epoll,
}

impl Backend {
    /// Every backend one test may run on, in the order the tests are
    /// generated.
    pub(crate) const BOTH: [Backend; 2] = [Backend::IoUring, Backend::Epoll];

    /// The `#[test]` function's name (the runtime's `Display` of it).
    pub(crate) fn test_name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::IoUring => "uring",
            Backend::Epoll => "epoll",
        }
    }

    /// `<krate>::Backend::<variant>`.
    pub(crate) fn path(self, krate: &Path) -> TokenStream {
        match self {
            Backend::Auto => quote!(#krate::Backend::Auto),
            Backend::IoUring => quote!(#krate::Backend::IoUring),
            Backend::Epoll => quote!(#krate::Backend::Epoll),
        }
    }
}

/// The parsed options, defaults applied.
pub(crate) struct Options {
    /// Loops of the runtime (at least 1).
    pub(crate) threads: usize,
    /// `None` when not given.
    pub(crate) backend: Option<Backend>,
    /// Path of the facade crate, `::ringloop` by default.
    pub(crate) krate: Path,
}

impl Options {
    /// Parses the attribute's arguments for `kind`.
    pub(crate) fn parse(kind: Kind, args: TokenStream) -> Result<Options> {
        let mut threads = None;
        let mut backend = None;
        let mut krate = None;
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("threads") {
                once(&meta, threads.is_some())?;
                threads = Some(parse_threads(meta.value()?.parse()?)?);
            } else if meta.path.is_ident("backend") {
                once(&meta, backend.is_some())?;
                backend = Some(parse_backend(kind, meta.value()?.parse()?)?);
            } else if meta.path.is_ident("crate") {
                once(&meta, krate.is_some())?;
                let lit: LitStr = meta.value()?.parse()?;
                krate = Some(lit.parse::<Path>()?);
            } else {
                let name = meta.path.to_token_stream().to_string().replace(' ', "");
                return Err(meta.error(format!(
                    "unknown option `{name}`: {} takes `threads = N`, \
                     `backend = \"{}\"` and `crate = \"path\"`",
                    kind.name(),
                    match kind {
                        Kind::Main => "auto|uring|epoll",
                        Kind::Test => "uring|epoll",
                    }
                )));
            }
            Ok(())
        });
        parser.parse2(args)?;
        Ok(Options {
            threads: threads.unwrap_or(1),
            backend,
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::ringloop)),
        })
    }
}

/// An option given twice is an error at its second occurrence.
fn once(meta: &ParseNestedMeta<'_>, seen: bool) -> Result<()> {
    if seen {
        let name = meta.path.to_token_stream().to_string();
        return Err(meta.error(format!("`{name}` is given twice")));
    }
    Ok(())
}

fn parse_threads(lit: LitInt) -> Result<usize> {
    let n: usize = lit.base10_parse()?;
    if n == 0 {
        return Err(Error::new(
            lit.span(),
            "`threads` must be at least 1: it counts the runtime's loops, \
             the calling thread's loop 0 included",
        ));
    }
    Ok(n)
}

fn parse_backend(kind: Kind, lit: LitStr) -> Result<Backend> {
    let b = match backend_name::parse(&lit.value()) {
        Ok(None) => Backend::Auto,
        Ok(Some(true)) => Backend::IoUring,
        Ok(Some(false)) => Backend::Epoll,
        Err(e) => return Err(Error::new(lit.span(), e)),
    };
    if kind == Kind::Test && b == Backend::Auto {
        return Err(Error::new(
            lit.span(),
            "#[ringloop::test] runs its body once on each backend; \
             `backend` may only name one of them (\"uring\" or \"epoll\"): \
             leave it out to run on both",
        ));
    }
    Ok(b)
}
