//! Runs a job for each item of a list, up to N at a time on threads, and gives the results
//! back in the list's order: the lab scenarios and the fuzz targets side by side.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `job(item)` for every item, at most `jobs` (at least 1) running at once; results in
/// the order of `items`.
pub fn each<T: Sync, R: Send>(items: &[T], jobs: usize, job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = job(item);
                done.lock().unwrap_or_else(|p| p.into_inner()).push((i, r));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|d| d.0);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_and_every_item_runs_once() {
        let items: Vec<u32> = (0..20).collect();
        let out = super::each(&items, 3, |i| {
            std::thread::sleep(std::time::Duration::from_millis(u64::from(20 - i)));
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::each(&[] as &[u32], 2, |i| *i).is_empty());
    }
}
