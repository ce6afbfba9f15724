"""Generate events/data/sample.csv: a small, realistic churn-features table that
passes events/schema-validator/contract.json. Deterministic (seeded), stdlib only.

    python3 events/data/generate_sample.py > events/data/sample.csv
"""
import csv
import datetime as dt
import random
import sys

rng = random.Random(20261122)
PLANS = ["basic", "plus", "pro"]
CONTRACTS = ["month-to-month", "one-year", "two-year"]
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "CA", "AU"]
start = dt.date(2018, 1, 1)

w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(["customer_id", "age", "tenure_months", "monthly_charges", "total_charges",
            "plan", "contract_type", "country", "signup_date", "last_login", "is_active",
            "support_calls", "churned"])
for i in range(400):
    tenure = rng.randint(0, 72)
    monthly = round(rng.uniform(18.0, 118.0), 2)
    total = "" if tenure == 0 or rng.random() < 0.01 else f"{monthly * tenure * rng.uniform(0.9, 1.1):.2f}"
    signup = start + dt.timedelta(days=rng.randint(0, 2400))
    login = dt.datetime(2026, 11, 1) - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 90))
    churn_p = 0.45 if tenure < 12 else 0.12
    w.writerow([
        f"C{100000 + i}",
        rng.randint(18, 85),
        tenure,
        f"{monthly:.2f}",
        total,
        rng.choices(PLANS, weights=[5, 3, 2])[0],
        rng.choices(CONTRACTS, weights=[6, 2, 2])[0],
        rng.choice(COUNTRIES),
        signup.isoformat(),
        login.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "true" if rng.random() < 0.8 else "false",
        "NA" if rng.random() < 0.03 else rng.randint(0, 9),
        int(rng.random() < churn_p),
    ])
