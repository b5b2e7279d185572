-- q5 hot items: the auctions with the most bids in each 10-second window,
-- every 2 seconds (a windowed count joined with the window's maximum count).
CREATE TABLE out (auction bigint, num bigint, window_start timestamp, window_end timestamp)
    WITH (connector = 'file', path = 'q5.csv', format = 'csv');
INSERT INTO out
SELECT a.auction, a.num, a.window_start, a.window_end
FROM (SELECT auction, count(*) AS num, window_start, window_end
      FROM hop(bid, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')
      GROUP BY auction, window_start, window_end) a
JOIN (SELECT max(num) AS maxn, window_start, window_end
      FROM (SELECT auction, count(*) AS num, window_start, window_end
            FROM hop(bid, date_time, INTERVAL '2 seconds', INTERVAL '10 seconds')
            GROUP BY auction, window_start, window_end) c
      GROUP BY window_start, window_end) m
  ON a.window_start = m.window_start AND a.window_end = m.window_end AND a.num >= m.maxn;
