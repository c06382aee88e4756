mod util;
use ringloop::driver::{ops::Nop, ops::Timeout, Op};
use ringloop::Backend;
use std::time::{Duration, Instant};

each_backend!(nop_and_timeout, |b: Backend| {
    let rt = util::rt(b);
    assert_eq!(rt.backend(), b);
    rt.block_on(async {
        Op::new(Nop).await.unwrap();
        let t = Instant::now();
        Op::new(Timeout::new(Duration::from_millis(5)))
            .await
            .unwrap();
        assert!(t.elapsed() >= Duration::from_millis(5));
        let h = ringloop::spawn(async { 5 });
        assert_eq!(h.await.unwrap(), 5);
        ringloop::time::sleep(Duration::from_millis(3)).await;
    });
    assert_eq!(rt.debug_resources(), [0, 0, 0, 0]);
});
