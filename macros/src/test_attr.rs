//! `#[ringloop::test]`; the crate docs say what it expands to.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Attribute, Error, Expr, ExprLit, ItemFn, Lit, LitStr, Meta};

use crate::options::{Backend, Kind, Options};
use crate::signature::{self, Errors};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let f: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let e = e.to_compile_error();
            return quote!(#e #item);
        }
    };
    let mut errors = Errors(None);
    let opts = Options::parse(Kind::Test, args)
        .map_err(|e| errors.push(e))
        .ok();
    if let Some(e) = signature::check(Kind::Test, &f.sig) {
        errors.push(e);
    }
    let attrs = Attrs::split(&f.attrs, &mut errors);
    let ItemFn {
        vis, sig, block, ..
    } = &f;
    let fn_attrs = &attrs.on_fn;
    match (errors.0, opts) {
        (None, Some(opts)) => generate(&f, &attrs, &opts),
        // The errors, and the function as it was (without the test
        // attributes), so that its body is still checked.
        (e, _) => {
            let e = e.map(|e| e.to_compile_error());
            quote! {
                #e
                #(#fn_attrs)*
                #[allow(dead_code)]
                #vis #sig #block
            }
        }
    }
}

/// The function's attributes, by where the expansion puts them.
struct Attrs<'a> {
    /// On the async fn: docs, lint levels, `cfg` and anything else.
    on_fn: Vec<&'a Attribute>,
    /// On the module too: `cfg` and `cfg_attr`.
    on_mod: Vec<&'a Attribute>,
    /// On each generated `#[test]` fn: `ignore`, `should_panic`.
    on_tests: Vec<&'a Attribute>,
    /// What `#[should_panic]` expects: `Some("")` without `expected`.
    should_panic: Option<String>,
}

impl<'a> Attrs<'a> {
    fn split(attrs: &'a [Attribute], errors: &mut Errors) -> Attrs<'a> {
        let mut out = Attrs {
            on_fn: Vec::new(),
            on_mod: Vec::new(),
            on_tests: Vec::new(),
            should_panic: None,
        };
        for a in attrs {
            let path = a.path();
            if path.is_ident("test") {
                errors.push(Error::new_spanned(
                    a,
                    "#[ringloop::test] generates the `#[test]` functions: \
                     remove this `#[test]`",
                ));
            } else if path.is_ident("should_panic") {
                match expected_panic(a) {
                    Ok(e) => out.should_panic = Some(e),
                    Err(e) => errors.push(e),
                }
                out.on_tests.push(a);
            } else if path.is_ident("ignore") {
                out.on_tests.push(a);
            } else if path.is_ident("cfg") || path.is_ident("cfg_attr") {
                out.on_fn.push(a);
                out.on_mod.push(a);
            } else {
                out.on_fn.push(a);
            }
        }
        out
    }
}

/// The `expected` string of `#[should_panic]`, `#[should_panic = "..."]`
/// or `#[should_panic(expected = "...")]` (empty for the first).
fn expected_panic(a: &Attribute) -> syn::Result<String> {
    match &a.meta {
        Meta::Path(_) => Ok(String::new()),
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s.value()),
            other => Err(Error::new_spanned(other, "expected a string")),
        },
        Meta::List(_) => {
            let mut expected = String::new();
            a.parse_nested_meta(|meta| {
                if meta.path.is_ident("expected") {
                    expected = meta.value()?.parse::<LitStr>()?.value();
                    Ok(())
                } else {
                    Err(meta.error("`should_panic` takes `expected = \"...\"`"))
                }
            })?;
            Ok(expected)
        }
    }
}

fn generate(f: &ItemFn, attrs: &Attrs<'_>, opts: &Options) -> TokenStream {
    let ItemFn {
        vis, sig, block, ..
    } = f;
    let ident = &sig.ident;
    let krate = &opts.krate;
    let threads = opts.threads;
    let Attrs {
        on_fn,
        on_mod,
        on_tests,
        should_panic,
    } = attrs;
    let should_panic = match should_panic {
        Some(e) => quote!(::core::option::Option::Some(#e)),
        None => quote!(::core::option::Option::None),
    };
    let backends: Vec<Backend> = match opts.backend {
        Some(b) => vec![b],
        None => Backend::BOTH.to_vec(),
    };
    let tests = backends.iter().map(|b| {
        let name = format_ident!("{}", b.test_name());
        let backend = b.path(krate);
        quote! {
            #[::core::prelude::v1::test]
            #(#on_tests)*
            pub(super) fn #name() {
                #krate::__private::run_test(
                    ::core::module_path!(),
                    #backend,
                    #threads,
                    #should_panic,
                    super::#ident,
                );
            }
        }
    });
    let doc = format!("`{ident}` run once per backend (`#[ringloop::test]`).");
    // The async fn keeps its name and place (its body sees what it saw);
    // the module of the same name lives in the type namespace beside it.
    // Its tests are `pub(super)`: the code around may call them.
    quote! {
        #(#on_fn)*
        #[allow(dead_code)]
        #vis #sig #block

        #(#on_mod)*
        #[doc = #doc]
        #vis mod #ident {
            #(#tests)*
        }
    }
}
