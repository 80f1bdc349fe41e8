//! fastcomments-integration
