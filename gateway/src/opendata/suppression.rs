//! Cell suppression (秘匿処理) for the published tables.
//!
//! The published cells and the sums between them (a facility's total is the sum of its methods;
//! the city's card total is the sum of the card brands, in another table) form a [`Lattice`].
//! A cell counting fewer payments than the threshold, but some, is suppressed outright
//! (primary). That alone does not hide it: a total minus the other published parts gives it
//! back. So cells are suppressed beside it (complementary) until no suppressed cell is a linear
//! combination of published ones — checked exactly, by elimination over the rationals on the
//! suppressed cells, not by a rule of thumb such as "two per row", which a chain of rows and
//! columns defeats.
//!
//! Complements are chosen greedily among the published cells that share a sum with an exposed
//! cell: a non-empty cell before an empty one (an empty complement bounds the hidden cell by its
//! true value for a reader who knows counts are never negative), then the one that leaves the
//! fewest cells exposed, then an inner cell before a total, then the fewest payments. The
//! result is re-checked before it is returned: a lattice that cannot be protected is an error,
//! never published.

/// How many candidate complements one step weighs by look-ahead (the cheapest ones).
pub const LOOKAHEAD_CANDIDATES_MAX: usize = 24;

/// One published cell: the payments it counts, and whether it is a total of other cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub count: u64,
    pub margin: bool,
}

/// `total = Σ parts`, for counts and amounts alike: a sum a reader of the published tables knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub total: usize,
    pub parts: Vec<usize>,
}

/// The published cells and every sum between them.
#[derive(Debug, Clone, Default)]
pub struct Lattice {
    pub cells: Vec<Cell>,
    pub relations: Vec<Relation>,
}

impl Lattice {
    /// Adds a cell and returns its index.
    pub fn cell(&mut self, count: u64, margin: bool) -> usize {
        self.cells.push(Cell { count, margin });
        self.cells.len() - 1
    }

    pub fn relate(&mut self, total: usize, parts: Vec<usize>) {
        debug_assert!(total < self.cells.len() && parts.iter().all(|part| *part < self.cells.len()));
        self.relations.push(Relation { total, parts });
    }
}

/// What happens to a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Published,
    /// Fewer payments than the threshold.
    Primary,
    /// Suppressed so that a primary cell cannot be worked out from the totals.
    Complementary,
}

impl Protection {
    pub fn is_suppressed(self) -> bool {
        self != Protection::Published
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressionError {
    #[error(
        "suppressed cell {cell} can still be worked out from the published cells and no cell is left to hide beside it"
    )]
    Unprotectable { cell: usize },
    #[error("the elimination over {cells} suppressed cells overflowed")]
    Overflow { cells: usize },
}

/// Suppresses every cell of `1..threshold` payments and the complements that protect them.
pub fn protect(lattice: &Lattice, threshold: u64) -> Result<Vec<Protection>, SuppressionError> {
    let mut protection: Vec<Protection> = lattice
        .cells
        .iter()
        .map(|cell| if cell.count > 0 && cell.count < threshold { Protection::Primary } else { Protection::Published })
        .collect();
    loop {
        let suppressed: Vec<bool> = protection.iter().map(|p| p.is_suppressed()).collect();
        let exposed = exposed(lattice, &suppressed)?;
        let Some(&first) = exposed.first() else { return Ok(protection) };
        let mut candidates: Vec<usize> = lattice
            .relations
            .iter()
            .filter(|relation| exposed.iter().any(|cell| relation.total == *cell || relation.parts.contains(cell)))
            .flat_map(|relation| std::iter::once(relation.total).chain(relation.parts.iter().copied()))
            .filter(|cell| !suppressed[*cell])
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        // The look-ahead below runs one elimination per candidate: only the cheapest few are
        // weighed, so a wide table (a prefecture's hundreds of facilities) stays affordable.
        candidates.sort_by_key(|cell| {
            let info = lattice.cells[*cell];
            (info.count == 0, info.margin, info.count, *cell)
        });
        candidates.truncate(LOOKAHEAD_CANDIDATES_MAX);
        // A non-empty cell before an empty one; then one step of look-ahead: the complement that
        // leaves the fewest cells exposed, then the cheapest. Without the look-ahead the cheapest
        // cell of a row is taken even when the cell that closes a cycle is one more payment, and
        // the table loses far more than it must. An empty complement is the last resort: a
        // reader who knows counts are never negative learns from it that the cells on its cycle
        // can move one way only, which bounds the hidden cell by its true value.
        let mut best: Option<((bool, usize, bool, u64), usize)> = None;
        for cell in candidates {
            let mut trial = suppressed.clone();
            trial[cell] = true;
            let info = lattice.cells[cell];
            let rank = (info.count == 0, exposed_count(lattice, &trial)?, info.margin, info.count);
            if best.as_ref().is_none_or(|(best_rank, _)| rank < *best_rank) {
                best = Some((rank, cell));
            }
        }
        match best {
            Some((_, cell)) => protection[cell] = Protection::Complementary,
            None => return Err(SuppressionError::Unprotectable { cell: first }),
        }
    }
}

fn exposed_count(lattice: &Lattice, suppressed: &[bool]) -> Result<usize, SuppressionError> {
    exposed(lattice, suppressed).map(|cells| cells.len())
}

/// The suppressed cells whose value follows from the published ones by linear arithmetic over
/// the relations, in index order.
///
/// Only the suppressed cells are unknowns; each relation is a row over them. A cell is
/// determined exactly when its unit vector lies in the rows' span, which in reduced row echelon
/// form means some row has its only non-zero entry at that cell.
pub fn exposed(lattice: &Lattice, suppressed: &[bool]) -> Result<Vec<usize>, SuppressionError> {
    let unknowns: Vec<usize> = (0..lattice.cells.len()).filter(|cell| suppressed[*cell]).collect();
    let column_of = |cell: usize| unknowns.binary_search(&cell).ok();
    let overflow = SuppressionError::Overflow { cells: unknowns.len() };
    let mut rows: Vec<Vec<i128>> = Vec::new();
    for relation in &lattice.relations {
        let mut row = vec![0i128; unknowns.len()];
        if let Some(column) = column_of(relation.total) {
            row[column] += 1;
        }
        for part in &relation.parts {
            if let Some(column) = column_of(*part) {
                row[column] -= 1;
            }
        }
        if row.iter().any(|entry| *entry != 0) {
            rows.push(row);
        }
    }
    let mut pivot_rows = 0;
    for column in 0..unknowns.len() {
        let Some(found) = (pivot_rows..rows.len()).find(|row| rows[*row][column] != 0) else { continue };
        rows.swap(pivot_rows, found);
        for row in 0..rows.len() {
            if row == pivot_rows || rows[row][column] == 0 {
                continue;
            }
            let (a, b) = (rows[pivot_rows][column], rows[row][column]);
            let mut combined = Vec::with_capacity(unknowns.len());
            for (left, right) in rows[row].iter().zip(&rows[pivot_rows]) {
                let value = left
                    .checked_mul(a)
                    .zip(right.checked_mul(b))
                    .and_then(|(x, y)| x.checked_sub(y))
                    .ok_or_else(|| overflow.clone())?;
                combined.push(value);
            }
            normalise(&mut combined);
            rows[row] = combined;
        }
        pivot_rows += 1;
    }
    let mut exposed: Vec<usize> = rows[..pivot_rows]
        .iter()
        .filter_map(|row| {
            let mut non_zero = row.iter().enumerate().filter(|(_, entry)| **entry != 0);
            match (non_zero.next(), non_zero.next()) {
                (Some((column, _)), None) => Some(unknowns[column]),
                _ => None,
            }
        })
        .collect();
    exposed.sort_unstable();
    Ok(exposed)
}

/// Divides a row by the greatest common divisor of its entries, keeping the numbers small.
fn normalise(row: &mut [i128]) {
    let divisor = row.iter().fold(0i128, |acc, entry| gcd(acc, entry.abs()));
    if divisor > 1 {
        for entry in row.iter_mut() {
            *entry /= divisor;
        }
    }
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rows × columns table with row totals, column totals and a grand total.
    fn table(counts: &[&[u64]]) -> (Lattice, Vec<Vec<usize>>) {
        let mut lattice = Lattice::default();
        let cells: Vec<Vec<usize>> =
            counts.iter().map(|row| row.iter().map(|count| lattice.cell(*count, false)).collect()).collect();
        let columns = counts[0].len();
        let row_totals: Vec<usize> = counts.iter().map(|row| lattice.cell(row.iter().sum(), true)).collect();
        let column_totals: Vec<usize> =
            (0..columns).map(|c| lattice.cell(counts.iter().map(|row| row[c]).sum(), true)).collect();
        let grand = lattice.cell(counts.iter().flat_map(|row| row.iter()).sum(), true);
        for (row, total) in cells.iter().zip(&row_totals) {
            lattice.relate(*total, row.clone());
        }
        for (column, total) in column_totals.iter().enumerate() {
            lattice.relate(*total, cells.iter().map(|row| row[column]).collect());
        }
        lattice.relate(grand, column_totals.clone());
        lattice.relate(grand, row_totals);
        (lattice, cells)
    }

    #[test]
    fn one_small_cell_alone_is_recovered_from_its_row_total() {
        let (lattice, cells) = table(&[&[50, 3, 40], &[60, 70, 80]]);
        let mut suppressed = vec![false; lattice.cells.len()];
        suppressed[cells[0][1]] = true;
        assert_eq!(exposed(&lattice, &suppressed), Ok(vec![cells[0][1]]));
    }

    #[test]
    fn complements_make_a_cycle_and_prefer_small_non_empty_cells() {
        let (lattice, cells) = table(&[&[50, 3, 40], &[60, 70, 12]]);
        let protection = protect(&lattice, 10).expect("protects");
        assert_eq!(protection[cells[0][1]], Protection::Primary);
        let suppressed: Vec<bool> = protection.iter().map(|p| p.is_suppressed()).collect();
        assert_eq!(exposed(&lattice, &suppressed), Ok(Vec::new()));
        // The cheapest cycle through the 3: the 40 beside it, the 12 below that, the 70 beside it.
        let hidden: Vec<usize> = (0..lattice.cells.len()).filter(|cell| suppressed[*cell]).collect();
        assert_eq!(hidden, vec![cells[0][1], cells[0][2], cells[1][1], cells[1][2]]);
    }

    #[test]
    fn a_bridge_between_two_protected_blocks_is_still_found() {
        // Rows 0–1 × columns 0–1 and rows 2–3 × columns 2–3 are each a suppressed 4-cycle, joined
        // by the one cell (1, 2): every row and column has two suppressions, yet the joining cell
        // is the difference of two published sums.
        let (lattice, cells) =
            table(&[&[5, 5, 0, 0, 90], &[5, 5, 5, 0, 90], &[0, 0, 5, 5, 90], &[0, 0, 5, 5, 90], &[90, 90, 90, 90, 90]]);
        let mut suppressed = vec![false; lattice.cells.len()];
        for (row, column) in [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 2), (2, 3), (3, 2), (3, 3)] {
            suppressed[cells[row][column]] = true;
        }
        assert_eq!(exposed(&lattice, &suppressed), Ok(vec![cells[1][2]]));
    }
}
