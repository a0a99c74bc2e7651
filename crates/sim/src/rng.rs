//! The simulator's own generator: xoshiro256** seeded through SplitMix64 from (seed,
//! replication). Written out here so that a seed gives the same stream whatever the versions
//! of other crates.

use std::sync::OnceLock;

/// Tables of Marsaglia and Tsang's ziggurat for the standard exponential (256 layers).
struct Ziggurat {
    k: [u32; 256],
    w: [f64; 256],
    f: [f64; 256],
}

const ZIGGURAT_R: f64 = 7.697_117_470_131_05;

fn ziggurat() -> &'static Ziggurat {
    static TABLES: OnceLock<Ziggurat> = OnceLock::new();
    TABLES.get_or_init(|| {
        let scale = 4_294_967_296.0f64;
        let area = 3.949_659_822_581_572e-3;
        let mut tables = Ziggurat {
            k: [0; 256],
            w: [0.0; 256],
            f: [0.0; 256],
        };
        let mut x = ZIGGURAT_R;
        let mut previous = x;
        let q = area / (-x).exp();
        tables.k[0] = ((x / q) * scale) as u32;
        tables.k[1] = 0;
        tables.w[0] = q / scale;
        tables.w[255] = x / scale;
        tables.f[0] = 1.0;
        tables.f[255] = (-x).exp();
        for i in (1..=254).rev() {
            x = -(area / x + (-x).exp()).ln();
            tables.k[i + 1] = ((x / previous) * scale) as u32;
            previous = x;
            tables.f[i] = (-x).exp();
            tables.w[i] = x / scale;
        }
        tables
    })
}

pub struct Rng {
    state: [u64; 4],
    spare_normal: Option<f64>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// An independent stream for one replication of one seed.
    pub fn new(seed: u64, replication: u64) -> Self {
        let mut mix = seed ^ replication.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let state = [
            splitmix(&mut mix),
            splitmix(&mut mix),
            splitmix(&mut mix),
            splitmix(&mut mix),
        ];
        Rng {
            state,
            spare_normal: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.state[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.state[1] << 17;
        self.state[2] ^= self.state[0];
        self.state[3] ^= self.state[1];
        self.state[1] ^= self.state[2];
        self.state[0] ^= self.state[3];
        self.state[2] ^= t;
        self.state[3] = self.state[3].rotate_left(45);
        result
    }

    /// Uniform in (0, 1].
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Exponential with the given rate (ziggurat: one table look-up in ~99% of draws).
    pub fn exponential(&mut self, rate: f64) -> f64 {
        self.standard_exponential() / rate
    }

    fn standard_exponential(&mut self) -> f64 {
        let tables = ziggurat();
        loop {
            let bits = (self.next_u64() >> 32) as u32;
            let layer = (bits & 255) as usize;
            if bits < tables.k[layer] {
                return f64::from(bits) * tables.w[layer];
            }
            if layer == 0 {
                return ZIGGURAT_R - self.uniform().ln();
            }
            let x = f64::from(bits) * tables.w[layer];
            if tables.f[layer] + self.uniform() * (tables.f[layer - 1] - tables.f[layer])
                < (-x).exp()
            {
                return x;
            }
        }
    }

    /// Standard normal (Box–Muller, both values used).
    pub fn normal(&mut self) -> f64 {
        if let Some(value) = self.spare_normal.take() {
            return value;
        }
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.uniform();
        self.spare_normal = Some(radius * angle.sin());
        radius * angle.cos()
    }

    /// Gamma with mean 1 and coefficient of variation `cv` (Marsaglia and Tsang).
    pub fn gamma_mean_one(&mut self, cv: f64) -> f64 {
        let shape = 1.0 / (cv * cv);
        let scale = cv * cv;
        let (boost, shape) = if shape < 1.0 {
            (true, shape + 1.0)
        } else {
            (false, shape)
        };
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        let value = loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                break d * v;
            }
        };
        let value = if boost {
            value * self.uniform().powf(1.0 / (shape - 1.0))
        } else {
            value
        };
        value * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let first: Vec<u64> = {
            let mut rng = Rng::new(7, 0);
            (0..4).map(|_| rng.next_u64()).collect()
        };
        let again: Vec<u64> = {
            let mut rng = Rng::new(7, 0);
            (0..4).map(|_| rng.next_u64()).collect()
        };
        let other: Vec<u64> = {
            let mut rng = Rng::new(7, 1);
            (0..4).map(|_| rng.next_u64()).collect()
        };
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn moments_are_right() {
        let mut rng = Rng::new(1, 2);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| rng.exponential(2.0)).collect();
        let mean = draws.iter().sum::<f64>() / f64::from(n);
        let second = draws.iter().map(|x| x * x).sum::<f64>() / f64::from(n);
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        assert!((second - 0.5).abs() < 0.01, "E[X²] = 2/λ² = 0.5: {second}");
        // The tail beyond the ziggurat's base (x > 7.697 at rate 1) has the right mass.
        let tail = draws
            .iter()
            .filter(|x| **x * 2.0 > 7.697_117_470_131_05)
            .count() as f64
            / f64::from(n);
        assert!(
            (tail - (-7.697_117_470_131_05f64).exp()).abs() < 3e-4,
            "{tail}"
        );
        for cut in [0.1, 0.5, 1.0, 2.0] {
            let below = draws.iter().filter(|x| **x < cut).count() as f64 / f64::from(n);
            assert!(
                (below - (1.0 - (-2.0 * cut).exp())).abs() < 0.004,
                "P(X<{cut}) = {below}"
            );
        }
        let gammas: Vec<f64> = (0..n).map(|_| rng.gamma_mean_one(0.3)).collect();
        let mean = gammas.iter().sum::<f64>() / f64::from(n);
        let sd = (gammas.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / f64::from(n)).sqrt();
        assert!(
            (mean - 1.0).abs() < 0.01 && (sd - 0.3).abs() < 0.01,
            "{mean} {sd}"
        );
    }
}
