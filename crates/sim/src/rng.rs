//! The simulator's own generator: xoshiro256** seeded through SplitMix64 from (seed,
//! replication). Written out here so that a seed gives the same stream whatever the versions
//! of other crates.

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

    /// Exponential with the given rate.
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
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
        let exp: f64 = (0..n).map(|_| rng.exponential(2.0)).sum::<f64>() / n as f64;
        assert!((exp - 0.5).abs() < 0.01, "{exp}");
        let gammas: Vec<f64> = (0..n).map(|_| rng.gamma_mean_one(0.3)).collect();
        let mean = gammas.iter().sum::<f64>() / n as f64;
        let sd = (gammas.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!(
            (mean - 1.0).abs() < 0.01 && (sd - 0.3).abs() < 0.01,
            "{mean} {sd}"
        );
    }
}
