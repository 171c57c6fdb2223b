"""The typed query DSL: expressions over entity columns (``expr``), query builders and
the KSQL compiler. Users import what they need from here:

    from kctx_cli.query import select, count, Tumbling
"""
