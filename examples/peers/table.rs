//! The one table: a row per measurement, a column per peer (the median of
//! its runs), then the ratios against tokio and against the floor.

use crate::peer::Peer;

struct Row {
    label: String,
    /// Decimals to print.
    digits: usize,
    /// Samples per peer, in `Peer::ALL` order.
    samples: [Vec<f64>; Peer::ALL.len()],
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

fn slot(p: Peer) -> usize {
    Peer::ALL
        .iter()
        .position(|&q| q == p)
        .expect("a peer of ALL")
}

/// The median (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// `1234567.8` with `digits` decimals and thousands separators.
fn number(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

impl Table {
    /// Declares a row (rows print in the order declared; one without any
    /// sample is left out).
    pub fn row(&mut self, label: &str, digits: usize) {
        self.rows.push(Row {
            label: label.to_string(),
            digits,
            samples: Default::default(),
        });
    }

    /// Adds one run's figure for `peer` to row `label`.
    pub fn add(&mut self, label: &str, peer: Peer, v: f64) {
        let row = self
            .rows
            .iter_mut()
            .find(|r| r.label == label)
            .expect("a declared row");
        row.samples[slot(peer)].push(v);
    }

    /// The table in Markdown.
    pub fn render(&self, peers: &[Peer]) -> String {
        let has = |p: Peer| peers.contains(&p);
        let mut ratios: Vec<(Peer, Peer)> = Vec::new();
        for (a, b) in [
            (Peer::Uring, Peer::Tokio),
            (Peer::Epoll, Peer::Tokio),
            (Peer::Uring, Peer::Floor),
            (Peer::UringMultishot, Peer::Floor),
        ] {
            if has(a) && has(b) {
                ratios.push((a, b));
            }
        }
        let cols: Vec<Peer> = Peer::ALL.into_iter().filter(|&p| has(p)).collect();
        let mut out = String::from("| |");
        for p in &cols {
            out += &format!(" {} |", p.title());
        }
        for (a, b) in &ratios {
            let short = a.name().split('-').next_back().unwrap_or(a.name());
            out += &format!(" {short}/{} |", b.name());
        }
        out += "\n|---|";
        for _ in 0..cols.len() + ratios.len() {
            out += "---:|";
        }
        out.push('\n');
        for row in &self.rows {
            let med = |p: Peer| median(&row.samples[slot(p)]);
            if cols.iter().all(|&p| med(p).is_none()) {
                continue;
            }
            out += &format!("| {} |", row.label);
            for &p in &cols {
                match med(p) {
                    Some(v) => out += &format!(" {} |", number(v, row.digits)),
                    None => out += " — |",
                }
            }
            for &(a, b) in &ratios {
                match (med(a), med(b)) {
                    (Some(x), Some(y)) if y != 0.0 => out += &format!(" {x_y:.2} |", x_y = x / y),
                    _ => out += " — |",
                }
            }
            out.push('\n');
        }
        out
    }
}
