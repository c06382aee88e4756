//! Build script of the facade package, for its test suite only: when
//! `RINGLOOP_BACKEND` selects one backend, the both-backends tests
//! (`tests/util`'s `each_backend!`) are generated for that backend alone,
//! so a run never reports a test as passed that did not run. The name is
//! parsed by the runtime's own parser (the same source file).

#[path = "build_support/backend_name.rs"]
#[allow(dead_code)]
mod backend_name;

fn main() {
    println!("cargo::rerun-if-env-changed=RINGLOOP_BACKEND");
    println!("cargo::rustc-check-cfg=cfg(ringloop_test_backend, values(\"uring\", \"epoll\"))");
    let Ok(v) = std::env::var("RINGLOOP_BACKEND") else {
        return;
    };
    match backend_name::parse(&v) {
        Ok(None) => {}
        Ok(Some(true)) => println!("cargo::rustc-cfg=ringloop_test_backend=\"uring\""),
        Ok(Some(false)) => println!("cargo::rustc-cfg=ringloop_test_backend=\"epoll\""),
        Err(e) => panic!("RINGLOOP_BACKEND: {e}"),
    }
}
