-- The sinks each instance's configuration has, so that an instance sweeping the deliveries
-- of sinks its own configuration lacks leaves alone those another live instance still sends
-- (a configuration rolled out to one instance at a time). NULL: not said (an instance of an
-- older version), which protects every sink.
ALTER TABLE instances ADD COLUMN sinks TEXT[];
