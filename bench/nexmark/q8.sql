-- q8 monitor new users: persons who opened an auction in the 10-second window
-- they registered in.
CREATE TABLE out (id bigint, name text, window_start timestamp)
    WITH (connector = 'file', path = 'q8.csv', format = 'csv');
INSERT INTO out
SELECT p.id, p.name, p.window_start
FROM (SELECT id, name, window_start, window_end
      FROM tumble(person, date_time, INTERVAL '10 seconds')
      GROUP BY id, name, window_start, window_end) p
JOIN (SELECT seller, window_start, window_end
      FROM tumble(auction, date_time, INTERVAL '10 seconds')
      GROUP BY seller, window_start, window_end) a
  ON p.id = a.seller AND p.window_start = a.window_start AND p.window_end = a.window_end;
