"""KPU's published results (Sirekap per TPS, D.Hasil per kecamatan): a source apart from the desk's.

Parsing (`sirekap`, `recap`) and the comparison with the desk (`reconcile`) are pure; the SQL
lives in `repository`. The import command (deskpemilu/kpu.py) writes, the api reads.
"""
