"""kctx_cli.ksql.compare.same_source: ksqlDB's stored text of a source against the statement
kctx sends. The stored texts below are what ksqlDB 8.1.5 answered in DESCRIBE for the
example shop's statements (tests/test_migrations_e2e.py checks the same on the live server);
each negative case changes one thing that does change the source."""
from __future__ import annotations

import pytest

from kctx_cli.ksql.compare import as_created, same_source
from kctx_cli.ksql.dialect import render

COLUMNS = {
    "ORDERS": {"ORDER_ID", "CUSTOMER_ID", "PRODUCT_ID", "QUANTITY", "AMOUNT", "CURRENCY", "ORDERED_AT", "COUPON"},
    "PAYMENTS": {"PAYMENT_ID", "ORDER_ID", "AMOUNT", "METHOD", "PAID_AT"},
    "CUSTOMERS": {"CUSTOMER_ID", "NAME", "TIER"},
}

SENT_ORDERS = ("CREATE STREAM ORDERS (ORDER_ID STRING KEY, CUSTOMER_ID STRING, QUANTITY INT, AMOUNT DECIMAL(18, 4), "
               "ORDERED_AT TIMESTAMP) WITH (KAFKA_TOPIC='orders', KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO', "
               "TIMESTAMP='ORDERED_AT');")
STORED_ORDERS = ("CREATE STREAM ORDERS (ORDER_ID STRING KEY, CUSTOMER_ID STRING, QUANTITY INTEGER, AMOUNT DECIMAL(18, 4), "
                 "ORDERED_AT TIMESTAMP) WITH (CLEANUP_POLICY='delete', KAFKA_TOPIC='orders', KEY_FORMAT='AVRO', "
                 "TIMESTAMP='ORDERED_AT', VALUE_FORMAT='AVRO');")

SENT_FILTER = ("CREATE STREAM HIGH_VALUE_ORDERS WITH (KAFKA_TOPIC='high_value_orders', REPLICAS=1, KEY_FORMAT='AVRO', "
               "VALUE_FORMAT='AVRO') AS SELECT ORDER_ID, CUSTOMER_ID, AMOUNT FROM ORDERS WHERE AMOUNT > 1000;")
STORED_FILTER = """CREATE STREAM HIGH_VALUE_ORDERS WITH (CLEANUP_POLICY='delete', KAFKA_TOPIC='high_value_orders', KEY_FORMAT='AVRO', PARTITIONS=6, REPLICAS=1, RETENTION_MS=604800000, VALUE_FORMAT='AVRO') AS SELECT
  ORDERS.ORDER_ID ORDER_ID,
  ORDERS.CUSTOMER_ID CUSTOMER_ID,
  ORDERS.AMOUNT AMOUNT
FROM ORDERS ORDERS
WHERE (ORDERS.AMOUNT > 1000)
EMIT CHANGES;"""

SENT_WINDOW = ("CREATE TABLE PER_CUSTOMER WITH (KAFKA_TOPIC='per_customer', REPLICAS=1, KEY_FORMAT='AVRO', "
               "VALUE_FORMAT='AVRO') AS SELECT CUSTOMER_ID, COUNT(*) AS ORDER_COUNT, SUM(AMOUNT) FROM ORDERS "
               "WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES) GROUP BY CUSTOMER_ID EMIT CHANGES;")
STORED_WINDOW = """CREATE TABLE PER_CUSTOMER WITH (CLEANUP_POLICY='compact,delete', KAFKA_TOPIC='per_customer', KEY_FORMAT='AVRO', PARTITIONS=6, REPLICAS=1, RETENTION_MS=604800000, VALUE_FORMAT='AVRO') AS SELECT
  ORDERS.CUSTOMER_ID CUSTOMER_ID,
  COUNT(*) ORDER_COUNT,
  SUM(ORDERS.AMOUNT) KSQL_COL_0
FROM ORDERS ORDERS
WINDOW TUMBLING ( SIZE 1 HOURS , GRACE PERIOD 10 MINUTES ) 
GROUP BY ORDERS.CUSTOMER_ID
EMIT CHANGES;"""

SENT_JOIN = ("CREATE STREAM PAID WITH (KAFKA_TOPIC='paid', REPLICAS=1, KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO') AS "
             "SELECT ORDERS.ORDER_ID AS ORDER_ID, CUSTOMER_ID, ORDERS.AMOUNT AS AMOUNT, PAYMENTS.AMOUNT AS PAID, "
             "PAYMENTS.METHOD FROM ORDERS JOIN PAYMENTS WITHIN 1 HOUR ON ORDERS.ORDER_ID = PAYMENTS.ORDER_ID;")
STORED_JOIN = """CREATE STREAM PAID WITH (CLEANUP_POLICY='delete', KAFKA_TOPIC='paid', KEY_FORMAT='AVRO', PARTITIONS=6, REPLICAS=1, RETENTION_MS=604800000, VALUE_FORMAT='AVRO') AS SELECT
  ORDERS.ORDER_ID ORDER_ID,
  ORDERS.CUSTOMER_ID CUSTOMER_ID,
  ORDERS.AMOUNT AMOUNT,
  PAYMENTS.AMOUNT PAID,
  PAYMENTS.METHOD METHOD
FROM ORDERS ORDERS
INNER JOIN PAYMENTS PAYMENTS WITHIN 1 HOURS ON ((ORDERS.ORDER_ID = PAYMENTS.ORDER_ID))
EMIT CHANGES;"""

SAME = [
    (STORED_ORDERS, SENT_ORDERS),
    (STORED_FILTER, SENT_FILTER),
    (STORED_WINDOW, SENT_WINDOW),
    (STORED_JOIN, SENT_JOIN),
    # IF NOT EXISTS / OR REPLACE are how it was sent, not what it is
    (STORED_ORDERS, SENT_ORDERS.replace("CREATE STREAM", "CREATE STREAM IF NOT EXISTS")),
    (STORED_FILTER, SENT_FILTER.replace("CREATE STREAM", "CREATE OR REPLACE STREAM")),
    # an explicit alias equal to the implicit name, a source alias
    (STORED_FILTER, SENT_FILTER.replace("SELECT ORDER_ID,", "SELECT ORDER_ID AS ORDER_ID,")),
    (STORED_FILTER.replace("FROM ORDERS ORDERS", "FROM ORDERS O").replace("ORDERS.", "O."),
     SENT_FILTER.replace("FROM ORDERS", "FROM ORDERS O")),
    # format names in any case
    (STORED_ORDERS, SENT_ORDERS.replace("VALUE_FORMAT='AVRO'", "VALUE_FORMAT='avro'")),
]

DIFFERENT = {
    "a column type": (STORED_ORDERS, SENT_ORDERS.replace("QUANTITY INT", "QUANTITY BIGINT")),
    "a key column": (STORED_ORDERS, SENT_ORDERS.replace("ORDER_ID STRING KEY", "ORDER_ID STRING")),
    "one more column": (STORED_ORDERS, SENT_ORDERS.replace("ORDERED_AT TIMESTAMP)", "ORDERED_AT TIMESTAMP, X INT)")),
    "a property the statement sets": (STORED_ORDERS, SENT_ORDERS.replace("KEY_FORMAT='AVRO'", "KEY_FORMAT='KAFKA'")),
    "the timestamp column": (STORED_ORDERS, SENT_ORDERS.replace("TIMESTAMP='ORDERED_AT'", "TIMESTAMP='X'")),
    "stream vs table": (STORED_ORDERS, SENT_ORDERS.replace("CREATE STREAM", "CREATE TABLE")
                        .replace("STRING KEY", "STRING PRIMARY KEY")),
    "a filter value": (STORED_FILTER, SENT_FILTER.replace("> 1000", "> 2000")),
    "a filter operator": (STORED_FILTER, SENT_FILTER.replace("> 1000", ">= 1000")),
    "one more select item": (STORED_FILTER, SENT_FILTER.replace("AMOUNT FROM", "AMOUNT, COUPON FROM")),
    "an explicit alias": (STORED_FILTER, SENT_FILTER.replace("CUSTOMER_ID,", "CUSTOMER_ID AS CUST,")),
    "a window size": (STORED_WINDOW, SENT_WINDOW.replace("SIZE 1 HOUR", "SIZE 2 HOURS")),
    "a grace period": (STORED_WINDOW, SENT_WINDOW.replace("GRACE PERIOD 10 MINUTES", "GRACE PERIOD 5 MINUTES")),
    "a generated name": (STORED_WINDOW, SENT_WINDOW.replace("SUM(AMOUNT)", "SUM(AMOUNT) AS TOTAL")),
    "the join side": (STORED_JOIN, SENT_JOIN.replace("FROM ORDERS JOIN", "FROM ORDERS LEFT JOIN")),
    "the join window": (STORED_JOIN, SENT_JOIN.replace("WITHIN 1 HOUR", "WITHIN 2 HOURS")),
    "a column from the other source": (STORED_JOIN, SENT_JOIN.replace("ORDERS.AMOUNT AS AMOUNT", "PAYMENTS.AMOUNT AS AMOUNT")),
}


@pytest.mark.parametrize("stored, sent", SAME)
def test_the_same_source_in_ksqldbs_words(stored, sent):
    assert same_source(stored, sent, COLUMNS.get)


@pytest.mark.parametrize("what", sorted(DIFFERENT))
def test_a_real_change_is_a_difference(what):
    stored, sent = DIFFERENT[what]
    assert not same_source(stored, sent, COLUMNS.get)


def test_parentheses_that_change_meaning_count():
    base = "CREATE STREAM S WITH (KAFKA_TOPIC='s') AS SELECT A FROM T WHERE {};"
    assert same_source(base.format("((A = 1 OR B = 2) AND C = 3)"), base.format("(A = 1 OR B = 2) AND C = 3"))
    assert not same_source(base.format("(A = 1 OR (B = 2 AND C = 3))"), base.format("(A = 1 OR B = 2) AND C = 3"))


def test_an_unqualified_join_column_needs_the_catalog():
    # without the columns of each source, CUSTOMER_ID cannot be matched with ORDERS.CUSTOMER_ID
    assert not same_source(STORED_JOIN, SENT_JOIN)
    assert same_source(STORED_JOIN, SENT_JOIN.replace(" CUSTOMER_ID,", " ORDERS.CUSTOMER_ID,"))


def test_unreadable_text_is_different():
    assert not same_source("CREATE STREAM (", SENT_ORDERS)
    assert not same_source(STORED_ORDERS, "DROP STREAM ORDERS;")


def test_alters_ksqldb_appends_to_the_stored_text_are_folded_in():
    stored = STORED_ORDERS + "\nALTER STREAM ORDERS ADD COLUMN PHONE STRING;\nALTER STREAM ORDERS ADD COLUMN A INT, ADD COLUMN B INT;"
    assert render(as_created(stored)).startswith(
        "CREATE STREAM ORDERS (ORDER_ID STRING KEY, CUSTOMER_ID STRING, QUANTITY INT, AMOUNT DECIMAL(18, 4), "
        "ORDERED_AT TIMESTAMP, PHONE STRING, A INT, B INT) WITH (")
    sent = SENT_ORDERS.replace("ORDERED_AT TIMESTAMP)", "ORDERED_AT TIMESTAMP, PHONE STRING, A INT, B INT)")
    assert same_source(stored, sent)
    assert not same_source(stored, SENT_ORDERS)
