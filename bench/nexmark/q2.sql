-- q2 selection: the bids of some auctions.
CREATE TABLE out (auction bigint, price bigint)
    WITH (connector = 'file', path = 'q2.csv', format = 'csv');
INSERT INTO out SELECT auction, price FROM bid WHERE auction % 123 = 0;
