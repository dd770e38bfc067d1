"""The reviewer app: audit trail, case workspaces, workflow logic and the Streamlit pages."""
