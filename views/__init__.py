"""What people look at: the dashboard, the HTML and JSON reports and the status table, built from what the
monitor keeps in Redis. The top layer: it reads through streams/ and draws with Bokeh."""
