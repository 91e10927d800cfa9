//! A rate per client address for the endpoints anyone can call without an account (sign-in,
//! sign-up, refresh): a token bucket per address, refilled at the configured rate per minute,
//! holding at most that many. Invariant: memory is bounded — buckets that have refilled are
//! dropped when the table grows — and IPv6 clients are counted per /64, since one host can
//! change its address within that freely.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Past this many addresses, full buckets are forgotten before a new one is added.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug)]
pub struct ClientLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The address a client is counted under.
fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl ClientLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let minutes = now.saturating_duration_since(bucket.at).as_secs_f64() / 60.0;
        (bucket.tokens + minutes * self.per_minute).min(self.per_minute)
    }

    /// Takes one request from `client`'s allowance, or answers how many seconds until the next
    /// one is free.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        let key = client_key(client);
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= PRUNE_ABOVE && !buckets.contains_key(&key) {
            let full = self.per_minute;
            buckets.retain(|_, b| {
                let minutes = now.saturating_duration_since(b.at).as_secs_f64() / 60.0;
                b.tokens + minutes * full < full
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.per_minute, at: now });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket { tokens: tokens - 1.0, at: now };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            let seconds = (1.0 - tokens) * 60.0 / self.per_minute;
            Err(seconds.ceil().max(1.0) as u64)
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_is_allowed_then_one_more_per_refill() {
        let limiter = ClientLimiter::new(6);
        let t0 = Instant::now();
        for n in 0..6 {
            assert_eq!(limiter.take(ip("10.0.0.1"), t0), Ok(()), "request {n} of the burst is allowed");
        }
        assert_eq!(limiter.take(ip("10.0.0.1"), t0), Err(10), "the seventh waits for the next token (10 s at 6/min)");
        assert_eq!(limiter.take(ip("10.0.0.2"), t0), Ok(()), "another client has its own allowance");
        assert_eq!(limiter.take(ip("10.0.0.1"), t0 + Duration::from_secs(10)), Ok(()), "a token came back");
        assert!(limiter.take(ip("10.0.0.1"), t0 + Duration::from_secs(10)).is_err());
        for n in 0..6 {
            assert_eq!(limiter.take(ip("10.0.0.1"), t0 + Duration::from_secs(600)), Ok(()), "refilled: {n}");
        }
        assert!(limiter.take(ip("10.0.0.1"), t0 + Duration::from_secs(600)).is_err(), "never above the burst");
    }

    #[test]
    fn an_ipv6_client_is_one_client_across_its_64() {
        let limiter = ClientLimiter::new(1);
        let t0 = Instant::now();
        assert_eq!(limiter.take(ip("2001:db8:1:2::1"), t0), Ok(()));
        assert!(limiter.take(ip("2001:db8:1:2:ffff::9"), t0).is_err(), "the same /64");
        assert_eq!(limiter.take(ip("2001:db8:1:3::1"), t0), Ok(()), "another /64");
        assert_eq!(limiter.take(ip("::ffff:10.0.0.9"), t0), Ok(()));
        assert!(limiter.take(ip("10.0.0.9"), t0).is_err(), "a mapped IPv4 address is that address");
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let limiter = ClientLimiter::new(1);
        let t0 = Instant::now();
        for n in 0..(PRUNE_ABOVE as u32 + 500) {
            let _ = limiter.take(IpAddr::V4(n.into()), t0);
        }
        let later = t0 + Duration::from_secs(120);
        let _ = limiter.take(ip("192.0.2.1"), later);
        assert!(limiter.tracked() < 10, "refilled buckets are forgotten: {}", limiter.tracked());
    }
}
