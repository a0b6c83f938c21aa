//! List answers bounded in bytes as well as in items. A page ends early, with a
//! `next_page_token`, once its items reach [`MAX_PAGE_BYTES`] encoded, and always holds at
//! least one item, so a caller paging on always gets everything. Rows are read in small
//! batches, sized by the largest row seen so far, so a page of large rows never loads more
//! than a few of them beyond what it returns.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use trellis_platform::error::{ApiError, ApiResult, StoreError};
use trellis_platform::pagination::{PageKey, PageRequest};

/// Bytes of items one List answer carries, encoded: 1 MiB.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// Rows read by the first query of a page.
const FIRST_BATCH_ROWS: usize = 16;

/// The most rows one query of a page reads. The largest row seen so far is no bound on the
/// next ones (small rows may come before large ones), so this is what bounds the rows a page
/// loads beyond those it returns: 32 Klips of ~1 MB at worst, not hundreds.
const MAX_BATCH_ROWS: usize = 32;

/// What one query of a page reads.
pub type Rows<'c, Row> = BoxFuture<'c, Result<Vec<Row>, StoreError>>;

/// One page of a keyset-paged list (see `trellis_platform::pagination`), filled by the
/// handler's query:
///
/// ```text
/// let pager = Pager::parse(request.page_size, &request.page_token)?;
/// let (items, next_page_token) = pager
///     .fill(conn, |row| row.id, to_proto, |conn, after, limit| {
///         Box::pin(store::list(conn, …, after, limit))
///     })
///     .await?;
/// ```
pub struct Pager<Key, Item> {
    size: usize,
    /// The key of the last item taken (at first, the page token's).
    after: Option<Key>,
    page: Filling<Item>,
    /// Rows the last query asked for.
    asked: usize,
    /// `Some(more)` once the page is complete: whether rows follow it.
    done: Option<bool>,
}

impl<Key: PageKey + Clone, Item: prost::Message> Pager<Key, Item> {
    /// The page a List request asks for.
    pub fn parse(page_size: i32, page_token: &str) -> ApiResult<Self> {
        Self::new(&PageRequest::parse(page_size, page_token)?)
    }

    /// The page `page` asks for, after the key its token holds.
    pub fn new(page: &PageRequest) -> ApiResult<Self> {
        Ok(Self::starting(page, page.after_key()?))
    }

    /// Refuses a token whose key `valid` says this service never issued (one the list's
    /// query could not even compare).
    pub fn refuse_unless(self, valid: impl Fn(&Key) -> bool) -> ApiResult<Self> {
        match &self.after {
            Some(key) if !valid(key) => Err(ApiError::invalid(
                "page_token",
                "not a token this service issued",
            )),
            _ => Ok(self),
        }
    }

    /// Runs `query(conn, after, limit)` (rows in key order) until the page is complete;
    /// the page's items and the token of the next page (empty after the last). The query's
    /// future is boxed: an async closure borrowing `conn` again on every call is not `Send`
    /// as a handler's future must be.
    pub async fn fill<Row>(
        mut self,
        conn: &mut AsyncPgConnection,
        key: impl Fn(&Row) -> Key,
        to_proto: impl Fn(&Row) -> Item,
        mut query: impl for<'c> FnMut(&'c mut AsyncPgConnection, Option<Key>, i64) -> Rows<'c, Row>,
    ) -> ApiResult<(Vec<Item>, String)> {
        while let Some((after, limit)) = self.next_query() {
            let rows = query(conn, after, limit).await?;
            self.add(rows, &key, &to_proto);
        }
        Ok(self.finish())
    }

    fn starting(page: &PageRequest, after: Option<Key>) -> Self {
        Pager {
            size: usize::try_from(page.size).unwrap_or(usize::MAX),
            after,
            page: Filling {
                items: Vec::new(),
                bytes: 0,
                largest: 0,
            },
            asked: 0,
            done: None,
        }
    }

    /// The next query to run, `(after, limit)`, or `None` once the page is complete.
    fn next_query(&mut self) -> Option<(Option<Key>, i64)> {
        if self.done.is_some() {
            return None;
        }
        // One more row than the page still wants tells whether another page follows.
        let wanted = self.size - self.page.items.len() + 1;
        self.asked = self.page.batch_rows().min(wanted);
        Some((self.after.clone(), self.asked as i64))
    }

    /// Takes the rows the last query read.
    fn add<Row>(
        &mut self,
        rows: Vec<Row>,
        key: impl Fn(&Row) -> Key,
        to_proto: impl Fn(&Row) -> Item,
    ) {
        let exhausted = rows.len() < self.asked;
        for row in &rows {
            if self.page.items.len() == self.size || !self.page.take(to_proto(row)) {
                self.done = Some(true);
                return;
            }
            self.after = Some(key(row));
        }
        if exhausted {
            self.done = Some(false);
        }
    }

    /// The page's items and the token of the next page (empty after the last).
    fn finish(self) -> (Vec<Item>, String) {
        let token = match (self.done, &self.after) {
            (Some(true), Some(last)) => URL_SAFE_NO_PAD.encode(last.to_token()),
            _ => String::new(),
        };
        (self.page.items, token)
    }
}

struct Filling<Item> {
    items: Vec<Item>,
    bytes: usize,
    largest: usize,
}

impl<Item: prost::Message> Filling<Item> {
    /// Rows worth reading next: as many as would fit if each were as large as the largest
    /// seen so far.
    fn batch_rows(&self) -> usize {
        if self.largest == 0 {
            return FIRST_BATCH_ROWS;
        }
        let room = MAX_PAGE_BYTES.saturating_sub(self.bytes);
        (room / self.largest + 1).clamp(1, MAX_BATCH_ROWS)
    }

    /// Adds `item` unless it would take the page past its bytes (the first always fits).
    fn take(&mut self, item: Item) -> bool {
        let len = item.encoded_len();
        // The repeated field's tag and the item's length prefix.
        let framed = 1 + prost::length_delimiter_len(len) + len;
        if !self.items.is_empty() && self.bytes + framed > MAX_PAGE_BYTES {
            return false;
        }
        self.bytes += framed;
        self.largest = self.largest.max(framed);
        self.items.push(item);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(items: &[usize]) -> (usize, usize) {
        let mut page = Filling {
            items: Vec::new(),
            bytes: 0,
            largest: 0,
        };
        let taken = items
            .iter()
            .take_while(|n| page.take("x".repeat(**n)))
            .count();
        (taken, page.bytes)
    }

    #[test]
    fn a_page_ends_before_its_bytes_and_holds_one_item_at_least() {
        let third = MAX_PAGE_BYTES / 3;
        let (taken, bytes) = page(&[third, third, third, third]);
        assert_eq!(taken, 2);
        assert!(bytes <= MAX_PAGE_BYTES);
        assert_eq!(page(&[2 * MAX_PAGE_BYTES, 1]).0, 1);
        assert_eq!(page(&[10; 100]).0, 100);
    }

    /// Pages `rows` (their lengths, keyed by position) as a handler would.
    fn pages(rows: &[usize], size: i32) -> Vec<Vec<usize>> {
        let mut pages = vec![];
        let mut token = String::new();
        loop {
            let mut pager = Pager::<i64, String>::parse(size, &token).unwrap();
            while let Some((after, limit)) = pager.next_query() {
                let start = after.map_or(0, |key| key as usize + 1);
                let batch: Vec<usize> = (start..rows.len()).take(limit as usize).collect();
                pager.add(batch, |i| *i as i64, |i| "x".repeat(rows[*i]));
            }
            let (items, next) = pager.finish();
            pages.push(items.iter().map(String::len).collect());
            if next.is_empty() {
                return pages;
            }
            token = next;
        }
    }

    #[test]
    fn paging_on_returns_every_row_once_within_the_bytes() {
        let big = MAX_PAGE_BYTES / 3;
        let rows = [10, big, big, big, 2 * MAX_PAGE_BYTES, 10, 10];
        let got = pages(&rows, 1000);
        assert_eq!(
            got,
            [
                vec![10, big, big],
                vec![big],
                vec![2 * MAX_PAGE_BYTES],
                vec![10, 10]
            ]
        );
        let small: Vec<usize> = vec![5; 300];
        let got = pages(&small, 100);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            [100, 100, 100]
        );
        assert_eq!(pages(&[], 10), [Vec::<usize>::new()]);
    }

    #[test]
    fn batches_shrink_for_large_rows() {
        let mut page = Filling {
            items: Vec::new(),
            bytes: 0,
            largest: 0,
        };
        assert_eq!(page.batch_rows(), FIRST_BATCH_ROWS);
        page.take("x".repeat(10));
        assert_eq!(page.batch_rows(), MAX_BATCH_ROWS);
        page.take("x".repeat(MAX_PAGE_BYTES / 4));
        assert!(page.batch_rows() <= 4, "{}", page.batch_rows());
    }
}
