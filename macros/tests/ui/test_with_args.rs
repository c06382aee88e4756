#[ringloop::test]
async fn takes_the_backend(backend: ringloop::Backend) {
    let _ = backend;
}

fn main() {}
