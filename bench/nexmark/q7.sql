-- q7 highest bid: the bids carrying the highest price of their 10-second window.
CREATE TABLE out (auction bigint, price bigint, bidder bigint, date_time timestamp, extra text)
    WITH (connector = 'file', path = 'q7.csv', format = 'csv');
INSERT INTO out
SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
FROM tumble(bid, date_time, INTERVAL '10 seconds') b
JOIN (SELECT max(price) AS maxprice, window_start, window_end
      FROM tumble(bid, date_time, INTERVAL '10 seconds')
      GROUP BY window_start, window_end) m
  ON b.window_start = m.window_start AND b.window_end = m.window_end AND b.price = m.maxprice;
