//! `#[ringloop::main]`; the crate docs say what it expands to.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

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
    let opts = Options::parse(Kind::Main, args)
        .map_err(|e| errors.push(e))
        .ok();
    if let Some(e) = signature::check(Kind::Main, &f.sig) {
        errors.push(e);
    }
    match (errors.0, opts) {
        (None, Some(opts)) => generate(&f, &opts),
        (e, _) => {
            // Only the errors, and a plain `fn` of the same name so that
            // rustc does not add "`main` function not found" (or "`main`
            // cannot be async") to them.
            let e = e.map(|e| e.to_compile_error());
            let ItemFn { vis, sig, .. } = &f;
            let ident = &sig.ident;
            quote! {
                #e
                #[allow(dead_code)]
                #vis fn #ident() {}
            }
        }
    }
}

fn generate(f: &ItemFn, opts: &Options) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = f;
    let ident = &sig.ident;
    let output = &sig.output;
    let krate = &opts.krate;
    let backend = opts.backend.unwrap_or(Backend::Auto).path(krate);
    let threads = opts.threads;
    // The body stays an `async fn` of the same name, nested in the
    // generated one: `?`, `return` and the declared output type mean what
    // they meant, and `main()` in the body still names the async fn.
    quote! {
        #(#attrs)*
        #vis fn #ident() #output {
            async fn #ident() #output #block
            let runtime = #krate::__private::main_runtime(#backend, #threads);
            runtime.block_on(#ident())
        }
    }
}
