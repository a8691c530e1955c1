"""Train a gradient-boosting churn model with a preprocessing pipeline and persist it."""

import sys

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import classification_report, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["plan", "region", "payment_method"]


def build() -> Pipeline:
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=300))])


def main(csv_path: str, model_path: str = "churn.joblib") -> None:
    df = pd.read_csv(csv_path)
    X, y = df[NUMERIC + CATEGORICAL], df["churned"].astype(int)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    model = build().fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    print(classification_report(y_test, proba > 0.5))
    print(f"ROC AUC: {roc_auc_score(y_test, proba):.3f}")
    joblib.dump(model, model_path)


if __name__ == "__main__":
    main(*sys.argv[1:])
