-- The Nexmark streams from the built-in generator (docs/streaming.md, connector
-- 'nexmark').  run.py replaces 1000000 (events) and the seed.
CREATE TABLE person (id bigint, name text, email_address text, credit_card text, city text,
    state text, date_time timestamp, extra text)
    WITH (connector = 'nexmark', kind = 'person', events = 1000000, seed = 1);
CREATE TABLE auction (id bigint, item_name text, description text, initial_bid bigint,
    reserve bigint, date_time timestamp, expires timestamp, seller bigint, category bigint,
    extra text)
    WITH (connector = 'nexmark', kind = 'auction', events = 1000000, seed = 1);
CREATE TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text,
    date_time timestamp, extra text)
    WITH (connector = 'nexmark', kind = 'bid', events = 1000000, seed = 1);
