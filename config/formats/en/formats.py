"""English date formats, as Django's, with the timezone's abbreviation after every time:
staff pages (the admin) show times in a zone that is not always their own."""

DATETIME_FORMAT = "N j, Y, P T"
SHORT_DATETIME_FORMAT = "m/d/Y P T"
