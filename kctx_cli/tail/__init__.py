"""`kctx tail`: read a topic without joining a group — where to start (start), reading
assigned partitions (reader), decoding keys and values (decode, keys), Java's murmur2
partitioner (partitioner) and the command itself (core)."""
