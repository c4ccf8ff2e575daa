//! Intervals of a ratio from natural logs: a Student-t interval on the mean of paired
//! log-ratios, and Welch's interval on the difference of two independent means of logs.
//! Imports nothing above it.

/// Two-sided confidence of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// A ratio over blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Geometric mean of the per-block ratios.
    pub ratio: f64,
    /// Lower end of its 95% interval (0 with fewer than two blocks).
    pub lo: f64,
    /// Upper end (infinite with fewer than two blocks).
    pub hi: f64,
    /// Median of the per-block ratios.
    pub median: f64,
    /// Blocks it is made of.
    pub n: usize,
}

impl Interval {
    /// Half the interval's width as a fraction of the ratio (0.05: +/- 5%).
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0 / self.ratio
    }

    /// `R [LO, HI]` with three decimals.
    pub fn cell(&self) -> String {
        if self.n < 2 {
            return format!("{:.3} [-, -]", self.ratio);
        }
        format!("{:.3} [{:.3}, {:.3}]", self.ratio, self.lo, self.hi)
    }
}

/// A mean of natural logs with its standard error and degrees of freedom: what two
/// intervals are compared by ([`difference`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Mean of the logs.
    pub mean_log: f64,
    /// Its standard error (infinite from one value).
    pub se: f64,
    /// Degrees of freedom of the standard error (values less one).
    pub df: f64,
}

impl Estimate {
    /// The mean of some logs; None without one.
    pub fn of(logs: &[f64]) -> Option<Estimate> {
        let n = logs.len();
        if n == 0 {
            return None;
        }
        let m = mean(logs);
        if n < 2 {
            return Some(Estimate {
                mean_log: m,
                se: f64::INFINITY,
                df: 0.0,
            });
        }
        let var = logs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        Some(Estimate {
            mean_log: m,
            se: (var / n as f64).sqrt(),
            df: (n - 1) as f64,
        })
    }

    /// `mean_log` +/- the 95% t quantile times `se`; None with no degree of freedom.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        if self.df < 1.0 || !self.se.is_finite() {
            return None;
        }
        let t = t_quantile(0.5 + CONFIDENCE / 2.0, self.df);
        Some((self.mean_log - t * self.se, self.mean_log + t * self.se))
    }
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The median of some values (they must not be empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// An interval of `exp(estimate)` with this median and count.
fn of_estimate(e: &Estimate, median: f64, n: usize) -> Interval {
    let (lo, hi) = e
        .bounds()
        .map_or((0.0, f64::INFINITY), |(lo, hi)| (lo.exp(), hi.exp()));
    Interval {
        ratio: e.mean_log.exp(),
        lo,
        hi,
        median,
        n,
    }
}

/// The geometric mean of per-block ratios given as natural logs, with the Student-t 95%
/// interval of their mean; None without a block. The blocks' log-ratios are taken as
/// independent draws of one normal-ish figure; the t quantile (not the normal's 1.96)
/// widens the interval for the few blocks a bench has, which is what keeps its coverage
/// at 95% from 5 blocks up (see the tests' measured figures).
pub fn paired(log_ratios: &[f64]) -> Option<Interval> {
    let e = Estimate::of(log_ratios)?;
    Some(of_estimate(&e, median(log_ratios).exp(), log_ratios.len()))
}

/// The ratio of two independent samples' geometric means (B over A, as natural logs),
/// with Welch's 95% interval: for runs that were not paired (two benches). Its median is
/// the ratio of the two medians; its `n` the smaller sample.
pub fn unpaired(a: &[f64], b: &[f64]) -> Option<Interval> {
    let iv = difference(Estimate::of(a)?, Estimate::of(b)?)?;
    Some(Interval {
        median: (median(b) - median(a)).exp(),
        n: a.len().min(b.len()),
        ..iv
    })
}

/// B over A from two independent estimates: the difference of their means with Welch's
/// standard error and Welch-Satterthwaite degrees of freedom. Its median is the ratio
/// itself (an estimate keeps no median); `n` is the smaller estimate's values (df + 1).
pub fn difference(a: Estimate, b: Estimate) -> Option<Interval> {
    if !(a.mean_log.is_finite() && b.mean_log.is_finite()) {
        return None;
    }
    let n = (a.df.min(b.df) + 1.0).round() as usize;
    let mean_log = b.mean_log - a.mean_log;
    let (va, vb) = (a.se.powi(2), b.se.powi(2));
    let se = (va + vb).sqrt();
    let df = if se > 0.0 && a.df >= 1.0 && b.df >= 1.0 {
        (va + vb).powi(2) / (va.powi(2) / a.df + vb.powi(2) / b.df)
    } else if se == 0.0 {
        a.df + b.df
    } else {
        0.0
    };
    let e = Estimate { mean_log, se, df };
    Some(of_estimate(&e, mean_log.exp(), n))
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 digits).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |s, (i, c)| s + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    d = 1.0 / if d.abs() < TINY { TINY } else { d };
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            d = 1.0 / if d.abs() < TINY { TINY } else { d };
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// P(T <= t) for Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The quantile of Student's t at probability `p` (0 < p < 1) for `df` >= 1 degrees of
/// freedom (fractional ones too, as Welch's are): bisection on [`t_cdf`] to 1e-10.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let mut hi = 2.0;
    while t_cdf(hi, df) < p && hi < 1e12 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    while hi - lo > 1e-10 * hi.max(1.0) {
        let mid = (lo + hi) / 2.0;
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}
