//! Exact samplers of the discrete Laplace and discrete Gaussian distributions, after Canonne,
//! Kamath and Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020),
//! Algorithms 1–3: the same algorithms OpenDP and ISRG's libprio use.
//!
//! Counts are integers, so the noise is drawn on the integers, and every step is integer
//! arithmetic on a uniform random stream: a uniform integer below `n` (by rejection, no modulo
//! bias), Bernoulli(p) for a rational `p`, Bernoulli(exp(−γ)) for a rational `γ`. No floating-
//! point number touches a released value, so the attack on textbook floating-point Laplace
//! noise (Mironov, CCS 2012: the low bits of `x + Lap(b)` reveal `x`) has nothing to read.
//!
//! Scales are rationals: the Laplace scale `Δ/ε` is exact (ε is read from its decimal text);
//! the Gaussian σ² = (Δ·√(2 ln(1.25/δ))/ε)² is irrational and is rounded *up* to a multiple of
//! 2⁻¹⁶, which only adds noise. Intermediate products are `u128`; a product that would
//! overflow is treated as a rejection, which can only happen for a draw beyond about 3·10⁴
//! noise scales (probability below e⁻³⁰⁰⁰⁰), given the cap [`MAX_SCALE`].

use rand::Rng;

/// The largest noise scale (Laplace `b` or Gaussian `σ`) accepted: beyond it the counts of any
/// realistic extract are pure noise, and the `u128` arithmetic above keeps its margin.
pub const MAX_SCALE: f64 = 100_000.0;

/// A non-negative rational number `num/den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: u128,
    pub den: u128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// `num/den` in lowest terms; `None` when `den` is 0.
    pub fn new(num: u128, den: u128) -> Option<Ratio> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        Some(Ratio { num: num / g, den: den / g })
    }

    /// A decimal number written `12`, `0.25`, `.5`, `1e-2` or `2.5E-1`, exactly; `None` for
    /// anything else, negative numbers, or more than 18 significant digits.
    pub fn parse_decimal(text: &str) -> Option<Ratio> {
        let t = text.trim();
        let (mantissa, exponent) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
            None => (t, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 18 {
            return None;
        }
        let mantissa: u128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        let scale = exponent - frac.len() as i32;
        if scale.abs() > 24 {
            return None;
        }
        let power = 10u128.pow(scale.unsigned_abs());
        if scale >= 0 { Ratio::new(mantissa.checked_mul(power)?, 1) } else { Ratio::new(mantissa, power) }
    }

    /// This number divided by `k`.
    pub fn divided_by(self, k: u128) -> Option<Ratio> {
        Ratio::new(self.num, self.den.checked_mul(k)?)
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The reciprocal; `None` for 0.
    pub fn recip(self) -> Option<Ratio> {
        Ratio::new(self.den, self.num)
    }
}

/// A uniform integer in `[0, n)`, `n ≥ 1`: draws of the bit length of `n − 1`, rejected when
/// `≥ n` (fewer than two draws on average, and no bias).
fn uniform<R: Rng + ?Sized>(rng: &mut R, n: u128) -> u128 {
    if n <= 1 {
        return 0;
    }
    let bits = 128 - (n - 1).leading_zeros();
    let mask = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
    loop {
        let x = if bits <= 64 {
            u128::from(rng.next_u64())
        } else {
            (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
        };
        let x = x & mask;
        if x < n {
            return x;
        }
    }
}

/// Bernoulli(num/den), `num ≤ den`.
fn bernoulli<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    uniform(rng, den) < num
}

/// Bernoulli(exp(−num/den)) for `num/den` in `[0, 1]` (CKS Algorithm 1, first branch): count
/// the successes of Bernoulli(γ/1), Bernoulli(γ/2), … up to the first failure; an even count
/// means 1.
fn bernoulli_exp_unit<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    let mut k: u128 = 1;
    loop {
        let Some(d) = den.checked_mul(k) else { return k % 2 == 1 };
        if bernoulli(rng, num, d) {
            k += 1;
        } else {
            return k % 2 == 1;
        }
    }
}

/// Bernoulli(exp(−num/den)) for any `num/den ≥ 0` (CKS Algorithm 1): ⌊γ⌋ trials of
/// Bernoulli(exp(−1)), then one of Bernoulli(exp(−(γ − ⌊γ⌋))).
fn bernoulli_exp<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    let mut whole = num / den;
    while whole > 0 {
        if !bernoulli_exp_unit(rng, 1, 1) {
            return false;
        }
        whole -= 1;
    }
    bernoulli_exp_unit(rng, num % den, den)
}

/// A geometric count `Y` with `P(Y = y) ∝ exp(−y·s/t)` (CKS Algorithm 2, all but the sign).
fn geometric<R: Rng + ?Sized>(rng: &mut R, s: u128, t: u128) -> Option<u128> {
    let u = loop {
        let u = uniform(rng, t);
        if bernoulli_exp_unit(rng, u, t) {
            break u;
        }
    };
    let mut v: u128 = 0;
    while bernoulli_exp_unit(rng, 1, 1) {
        v += 1;
    }
    // X = U + t·V is geometric with P(X = x) ∝ exp(−x/t); Y = ⌊X/s⌋.
    Some(t.checked_mul(v)?.checked_add(u)? / s)
}

/// A draw of the discrete Laplace distribution with scale `b = t/s`:
/// `P(Z = z) ∝ exp(−|z|/b)` on the integers (CKS Algorithm 2).
pub fn discrete_laplace<R: Rng + ?Sized>(rng: &mut R, scale: Ratio) -> i128 {
    let (t, s) = (scale.num, scale.den);
    if t == 0 {
        return 0;
    }
    loop {
        let negative = bernoulli(rng, 1, 2);
        let Some(y) = geometric(rng, s, t) else { continue };
        if negative && y == 0 {
            continue;
        }
        let y = i128::try_from(y).unwrap_or(i128::MAX);
        return if negative { -y } else { y };
    }
}

/// A draw of the discrete Gaussian distribution with variance parameter `σ² = sigma2`:
/// `P(Z = z) ∝ exp(−z²/(2σ²))` on the integers (CKS Algorithm 3: discrete Laplace proposals
/// with scale `t = ⌊σ⌋ + 1`, accepted with probability `exp(−(|y| − σ²/t)²/(2σ²))`).
pub fn discrete_gaussian<R: Rng + ?Sized>(rng: &mut R, sigma2: Ratio) -> i128 {
    let (a, b) = (sigma2.num, sigma2.den);
    if a == 0 {
        return 0;
    }
    // t = ⌊σ⌋ + 1: the largest m with m²·b ≤ a, plus one.
    let mut m = (sigma2.to_f64().sqrt().floor() as u128).saturating_sub(1);
    while (m + 1).checked_mul(m + 1).and_then(|x| x.checked_mul(b)).is_some_and(|x| x <= a) {
        m += 1;
    }
    let t = m + 1;
    // γ = (|y|·b·t − a)² / (2·a·b·t²).
    let Some(den) =
        t.checked_mul(t).and_then(|x| x.checked_mul(a)).and_then(|x| x.checked_mul(b)).and_then(|x| x.checked_mul(2))
    else {
        return 0;
    };
    loop {
        let y = discrete_laplace(rng, Ratio { num: t, den: 1 });
        let Some(ybt) = y.unsigned_abs().checked_mul(b).and_then(|x| x.checked_mul(t)) else { continue };
        let diff = ybt.abs_diff(a);
        let Some(num) = diff.checked_mul(diff) else { continue };
        if bernoulli_exp(rng, num, den) {
            return y;
        }
    }
}

/// The noise added to every count of one query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// Discrete Laplace with scale `b = Δ/ε`: ε-differential privacy for a count of L1
    /// sensitivity Δ.
    Laplace { scale: Ratio },
    /// Discrete Gaussian with σ = Δ·√(2 ln(1.25/δ))/ε (the classical calibration, Dwork & Roth
    /// 2014, Theorem A.1, for ε < 1): (ε, δ)-differential privacy for L2 sensitivity Δ.
    Gaussian { sigma2: Ratio },
}

impl Noise {
    /// Laplace noise for ε-DP at sensitivity `sensitivity`.
    pub fn laplace(sensitivity: u64, epsilon: Ratio) -> Result<Noise, String> {
        if epsilon.num == 0 {
            return Err("ε must be above 0".into());
        }
        let scale = epsilon.recip().and_then(|r| Ratio::new(r.num.checked_mul(u128::from(sensitivity))?, r.den));
        let Some(scale) = scale else { return Err("ε is too small".into()) };
        let noise = Noise::Laplace { scale };
        noise.check_scale()?;
        Ok(noise)
    }

    /// Gaussian noise for (ε, δ)-DP at sensitivity `sensitivity`; the classical calibration
    /// needs ε < 1.
    pub fn gaussian(sensitivity: u64, epsilon: f64, delta: f64) -> Result<Noise, String> {
        if !(epsilon > 0.0 && epsilon < 1.0) {
            return Err(format!(
                "the Gaussian mechanism's calibration σ = Δ·√(2 ln(1.25/δ))/ε holds for ε < 1 per query, and a query \
                 would get ε = {epsilon}: use --mechanism laplace, or a smaller --epsilon"
            ));
        }
        if !(delta > 0.0 && delta < 1.0) {
            return Err("δ must be between 0 and 1".into());
        }
        let sigma = gaussian_sigma(sensitivity, epsilon, delta);
        if sigma > MAX_SCALE {
            return Err(too_noisy(sigma));
        }
        let b: u128 = 1 << 16;
        let a = (sigma * sigma * b as f64).ceil() as u128;
        let sigma2 = Ratio::new(a, b).ok_or("σ cannot be represented")?;
        Ok(Noise::Gaussian { sigma2 })
    }

    fn check_scale(&self) -> Result<(), String> {
        if self.scale() > MAX_SCALE { Err(too_noisy(self.scale())) } else { Ok(()) }
    }

    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i128 {
        match *self {
            Noise::Laplace { scale } => discrete_laplace(rng, scale),
            Noise::Gaussian { sigma2 } => discrete_gaussian(rng, sigma2),
        }
    }

    /// The scale: `b` of the Laplace, `σ` of the Gaussian.
    pub fn scale(&self) -> f64 {
        match *self {
            Noise::Laplace { scale } => scale.to_f64(),
            Noise::Gaussian { sigma2 } => sigma2.to_f64().sqrt(),
        }
    }

    /// The variance of one draw: `2q/(1 − q)²` with `q = e^(−1/b)` for the discrete Laplace;
    /// σ² for the discrete Gaussian (an upper bound: its variance is slightly below σ²).
    pub fn variance(&self) -> f64 {
        match *self {
            Noise::Laplace { scale } => {
                let q = (-1.0 / scale.to_f64()).exp();
                2.0 * q / ((1.0 - q) * (1.0 - q))
            }
            Noise::Gaussian { sigma2 } => sigma2.to_f64(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Noise::Laplace { .. } => "discrete Laplace",
            Noise::Gaussian { .. } => "discrete Gaussian",
        }
    }
}

fn too_noisy(scale: f64) -> String {
    format!(
        "ε per query is too small: the noise scale would be {scale:.0}, above {MAX_SCALE:.0}, and every count pure noise; \
         give a larger --epsilon or fewer conditions"
    )
}

/// σ = Δ·√(2 ln(1.25/δ))/ε.
pub fn gaussian_sigma(sensitivity: u64, epsilon: f64, delta: f64) -> f64 {
    sensitivity as f64 * (2.0 * (1.25 / delta).ln()).sqrt() / epsilon
}

/// The exact δ at which the discrete Gaussian with variance parameter `sigma2` is ε-DP for an
/// integer query of sensitivity Δ (CKS 2020, Theorem 7):
/// `δ = P(Y > εσ²/Δ − Δ/2) − e^ε·P(Y > εσ²/Δ + Δ/2)`, `Y ~ N_Z(0, σ²)`.
pub fn gaussian_delta(sigma2: f64, sensitivity: u64, epsilon: f64) -> f64 {
    let delta = sensitivity as f64;
    let sigma = sigma2.sqrt();
    let reach = (40.0 * sigma + 10.0) as i64;
    let weight = |k: i64| (-((k * k) as f64) / (2.0 * sigma2)).exp();
    let total: f64 = (-reach..=reach).map(weight).sum();
    let tail = |c: f64| -> f64 {
        let from = (c.floor() as i64 + 1).max(-reach);
        (from..=reach).map(weight).sum::<f64>() / total
    };
    let c = epsilon * sigma2 / delta;
    (tail(c - delta / 2.0) - epsilon.exp() * tail(c + delta / 2.0)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The Kolmogorov–Smirnov distance between a sample of integers and a distribution on the
    /// integers given by its CDF (checked at every integer the sample spans and one beyond).
    fn ks(sample: &mut [i128], cdf: impl Fn(i128) -> f64) -> f64 {
        sample.sort_unstable();
        let n = sample.len() as f64;
        let (lo, hi) = (sample[0] - 1, sample[sample.len() - 1] + 1);
        let mut d: f64 = 0.0;
        let mut i = 0;
        for k in lo..=hi {
            while i < sample.len() && sample[i] <= k {
                i += 1;
            }
            d = d.max((i as f64 / n - cdf(k)).abs());
        }
        d
    }

    /// The discrete Laplace CDF with scale `b`.
    fn laplace_cdf(b: f64) -> impl Fn(i128) -> f64 {
        let q = (-1.0 / b).exp();
        move |k| if k < 0 { q.powi((-k) as i32) / (1.0 + q) } else { 1.0 - q.powi((k + 1) as i32) / (1.0 + q) }
    }

    /// The discrete Gaussian CDF with variance parameter σ², by summation.
    fn gaussian_cdf(sigma2: f64) -> impl Fn(i128) -> f64 {
        let reach = (40.0 * sigma2.sqrt() + 10.0) as i128;
        let w: Vec<f64> = (-reach..=reach).map(|k| (-((k * k) as f64) / (2.0 * sigma2)).exp()).collect();
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let cum: Vec<f64> = w
            .iter()
            .map(|x| {
                acc += x;
                acc / total
            })
            .collect();
        move |k| {
            if k < -reach {
                0.0
            } else if k >= reach {
                1.0
            } else {
                cum[(k + reach) as usize]
            }
        }
    }

    const DRAWS: usize = 50_000;
    /// The KS critical value at α = 0.001: √(−ln(α/2)/2)/√n (conservative for discrete laws).
    fn critical(n: usize) -> f64 {
        (-(0.001f64 / 2.0).ln() / 2.0).sqrt() / (n as f64).sqrt()
    }

    #[test]
    fn laplace_noise_has_scale_sensitivity_over_epsilon() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for (sensitivity, epsilon) in [(1, "0.5"), (1, "0.1"), (2, "1")] {
            let e = Ratio::parse_decimal(epsilon).unwrap();
            let noise = Noise::laplace(sensitivity, e).unwrap();
            let b = sensitivity as f64 / e.to_f64();
            assert!((noise.scale() - b).abs() < 1e-12);
            let mut sample: Vec<i128> = (0..DRAWS).map(|_| noise.sample(&mut rng)).collect();
            let mean = sample.iter().sum::<i128>() as f64 / DRAWS as f64;
            let var = sample.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / (DRAWS - 1) as f64;
            let d = ks(&mut sample, laplace_cdf(b));
            let wrong = ks(&mut sample, laplace_cdf(b * 1.2));
            eprintln!(
                "laplace Δ={sensitivity} ε={epsilon}: b={b} KS D={d:.5} (critical {:.5}); against 1.2·b D={wrong:.5}; \
                 mean {mean:.3}, variance {var:.2} (expected {:.2})",
                critical(DRAWS),
                noise.variance()
            );
            assert!(d < critical(DRAWS), "KS D = {d} for b = {b}");
            assert!(wrong > critical(DRAWS), "the test cannot tell b from 1.2·b (D = {wrong})");
            assert!((var / noise.variance() - 1.0).abs() < 0.05, "variance {var} vs {}", noise.variance());
            assert!(mean.abs() < 5.0 * (noise.variance() / DRAWS as f64).sqrt(), "mean {mean}");
        }
    }

    #[test]
    fn gaussian_noise_has_the_classical_sigma() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        for (sensitivity, epsilon, delta) in [(1, 0.5, 1e-5), (1, 0.9, 1e-6), (1, 0.1, 1e-3)] {
            let noise = Noise::gaussian(sensitivity, epsilon, delta).unwrap();
            let sigma = sensitivity as f64 * (2.0 * (1.25f64 / delta).ln()).sqrt() / epsilon;
            assert!(noise.scale() >= sigma && noise.scale() - sigma < 1e-4, "{} vs {sigma}", noise.scale());
            let Noise::Gaussian { sigma2 } = noise else { unreachable!() };
            let mut sample: Vec<i128> = (0..DRAWS).map(|_| noise.sample(&mut rng)).collect();
            let sd = (sample.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / DRAWS as f64).sqrt();
            let d = ks(&mut sample, gaussian_cdf(sigma2.to_f64()));
            let wrong = ks(&mut sample, gaussian_cdf(sigma2.to_f64() * 1.44));
            eprintln!(
                "gaussian ε={epsilon} δ={delta}: σ={sigma:.3} KS D={d:.5} (critical {:.5}); against 1.2·σ D={wrong:.5}; sample sd {sd:.3}",
                critical(DRAWS)
            );
            assert!(d < critical(DRAWS), "KS D = {d} for σ = {sigma}");
            assert!(wrong > critical(DRAWS));
            assert!((sd / sigma - 1.0).abs() < 0.03, "sd {sd} vs σ {sigma}");
        }
    }

    #[test]
    fn the_discrete_gaussian_keeps_the_stated_delta() {
        // CKS Theorem 7 computes the exact δ of the discrete Gaussian: with the classical σ it
        // stays below the δ asked for, over a grid of ε < 1 and δ.
        for epsilon in [0.05, 0.1, 0.3, 0.5, 0.9, 0.99] {
            for delta in [1e-3, 1e-5, 1e-7, 1e-9] {
                for sensitivity in [1, 3] {
                    let Ok(Noise::Gaussian { sigma2 }) = Noise::gaussian(sensitivity, epsilon, delta) else {
                        panic!("no noise for ε = {epsilon}")
                    };
                    let exact = gaussian_delta(sigma2.to_f64(), sensitivity, epsilon);
                    assert!(exact <= delta, "ε = {epsilon}, δ = {delta}, Δ = {sensitivity}: exact δ = {exact}");
                }
            }
        }
    }

    #[test]
    fn decimals_are_read_exactly() {
        let r = |s: &str| Ratio::parse_decimal(s).map(|r| (r.num, r.den));
        assert_eq!(r("0.5"), Some((1, 2)));
        assert_eq!(r("1"), Some((1, 1)));
        assert_eq!(r(".25"), Some((1, 4)));
        assert_eq!(r("1e-2"), Some((1, 100)));
        assert_eq!(r("2.5E-1"), Some((1, 4)));
        assert_eq!(r("0.3"), Some((3, 10)));
        assert_eq!(r("3e2"), Some((300, 1)));
        for bad in ["", ".", "-1", "1/2", "abc", "1e", "NaN", "1e99", "0.1234567890123456789"] {
            assert_eq!(r(bad), None, "{bad}");
        }
        assert_eq!(Ratio::parse_decimal("1").unwrap().divided_by(3).unwrap(), Ratio { num: 1, den: 3 });
    }

    #[test]
    fn refusals() {
        assert!(Noise::laplace(1, Ratio { num: 0, den: 1 }).is_err());
        assert!(Noise::laplace(1, Ratio::parse_decimal("1e-6").unwrap()).unwrap_err().contains("too small"));
        assert!(Noise::gaussian(1, 1.0, 1e-6).unwrap_err().contains("ε < 1"));
        assert!(Noise::gaussian(1, 0.5, 0.0).is_err());
    }

    #[test]
    fn uniform_and_bernoulli_exp_are_unbiased() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let n = 30_000;
        let mut counts = [0u32; 3];
        for _ in 0..n {
            counts[uniform(&mut rng, 3) as usize] += 1;
        }
        for c in counts {
            assert!((f64::from(c) / n as f64 - 1.0 / 3.0).abs() < 0.015, "{counts:?}");
        }
        for (num, den) in [(1u128, 2u128), (3, 1), (7, 3)] {
            let hits = (0..n).filter(|_| bernoulli_exp(&mut rng, num, den)).count() as f64 / n as f64;
            let p = (-(num as f64) / den as f64).exp();
            assert!((hits - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-3, "{num}/{den}: {hits} vs {p}");
        }
    }
}
