//! berth-controllers: the control loops of the controller manager.
