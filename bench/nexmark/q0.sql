-- q0 pass-through: every bid as it is.
CREATE TABLE out (auction bigint, bidder bigint, price bigint, date_time timestamp, extra text)
    WITH (connector = 'file', path = 'q0.csv', format = 'csv');
INSERT INTO out SELECT auction, bidder, price, date_time, extra FROM bid;
