"""The distributed stack as a cluster of processes on loopback (``make cluster``): three
Kafka KRaft nodes, a three-node Cassandra ring, Spark standalone (a master, two workers),
two web instances behind nginx, two forwarding workers, the aggregator and beat."""
