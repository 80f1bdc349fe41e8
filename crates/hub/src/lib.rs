//! fastcomments-hub
