"""IMR Drafter reviewer app: `streamlit run app.py` (scripts/run.sh starts it). All logic is in drafter/."""

from drafter.review.ui import main

main()
