//! Runs a job for each item of a list, up to N at a time on threads, and gives the results
//! back in the list's order: the lab scenarios and the fuzz targets side by side. Items
//! marked heavy never run beside each other (the lab's Debian-root scenarios: two of them
//! at once on a 2-core host stalled guests for 16 s, and a cluster member was fenced).

use std::sync::{Condvar, Mutex};

/// Which items are taken, and whether a heavy one is running.
struct State {
    taken: Vec<bool>,
    heavy_running: bool,
}

/// `job(item)` for every item, at most `jobs` (at least 1) running at once, and never two
/// items for which `heavy` holds; results in the order of `items`. Each worker takes the
/// first item not taken yet that it may run now (a heavy one only while no other heavy one
/// runs), so the order of `items` is kept where the rule allows.
pub fn each<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    heavy: impl Fn(&T) -> bool + Sync,
    job: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let state = Mutex::new(State {
        taken: vec![false; items.len()],
        heavy_running: false,
    });
    let changed = Condvar::new();
    let done = Mutex::new(Vec::with_capacity(items.len()));
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let mut st = lock();
                let (i, is_heavy) = loop {
                    let next = (0..items.len())
                        .find(|&i| !st.taken[i] && (!st.heavy_running || !heavy(&items[i])));
                    if let Some(i) = next {
                        break (i, heavy(&items[i]));
                    }
                    if st.taken.iter().all(|t| *t) {
                        return;
                    }
                    // Only heavy items are left and one runs: wait for it.
                    st = changed.wait(st).unwrap_or_else(|p| p.into_inner());
                };
                st.taken[i] = true;
                st.heavy_running |= is_heavy;
                drop(st);
                let r = job(&items[i]);
                done.lock().unwrap_or_else(|p| p.into_inner()).push((i, r));
                if is_heavy {
                    lock().heavy_running = false;
                    changed.notify_all();
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|d| d.0);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_keep_the_order_and_every_item_runs_once() {
        let items: Vec<u32> = (0..20).collect();
        let out = super::each(
            &items,
            3,
            |_| false,
            |i| {
                std::thread::sleep(Duration::from_millis(u64::from(20 - i)));
                i * 2
            },
        );
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::each(&[] as &[u32], 2, |_| false, |i| *i).is_empty());
    }

    #[test]
    fn two_heavy_items_never_run_at_once_and_light_ones_fill_the_other_slot() {
        // Heavy first, as the lab orders them; 3 workers.
        let items: Vec<(bool, u64)> = vec![
            (true, 30),
            (true, 30),
            (true, 30),
            (false, 5),
            (false, 5),
            (false, 5),
            (false, 5),
        ];
        let heavy_now = AtomicUsize::new(0);
        let most_heavy = AtomicUsize::new(0);
        let running = AtomicUsize::new(0);
        let most_running = AtomicUsize::new(0);
        let out = super::each(
            &items,
            3,
            |it| it.0,
            |it| {
                let r = running.fetch_add(1, Ordering::SeqCst) + 1;
                most_running.fetch_max(r, Ordering::SeqCst);
                if it.0 {
                    let h = heavy_now.fetch_add(1, Ordering::SeqCst) + 1;
                    most_heavy.fetch_max(h, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(it.1));
                if it.0 {
                    heavy_now.fetch_sub(1, Ordering::SeqCst);
                }
                running.fetch_sub(1, Ordering::SeqCst);
                it.1
            },
        );
        assert_eq!(out, items.iter().map(|i| i.1).collect::<Vec<_>>());
        assert_eq!(most_heavy.load(Ordering::SeqCst), 1, "two heavy at once");
        assert!(
            most_running.load(Ordering::SeqCst) > 1,
            "nothing ran beside a heavy item"
        );
        // Only heavy items: one at a time, and every one runs (nobody waits forever).
        let only: Vec<(bool, u64)> = vec![(true, 2); 5];
        assert_eq!(super::each(&only, 2, |it| it.0, |it| it.1).len(), 5);
    }
}
