-- q1 currency conversion: bid prices from dollars to euros.
CREATE TABLE out (auction bigint, bidder bigint, price numeric, date_time timestamp, extra text)
    WITH (connector = 'file', path = 'q1.csv', format = 'csv');
INSERT INTO out SELECT auction, bidder, 0.908 * price, date_time, extra FROM bid;
